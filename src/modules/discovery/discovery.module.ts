import { Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { ConfigError } from '../../config/config.error.js';
import { DiscoveryService } from './discovery.service.js';
import { InstanceSource } from './instance-source.js';
import { StaticInstanceSource } from './static.source.js';

@Module({
  providers: [
    {
      provide: InstanceSource,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): InstanceSource => {
        if (config.discovery === 'static') return new StaticInstanceSource(config);
        throw new ConfigError('DISCOVERY', `=${config.discovery} is not supported by this build (accepted: static)`);
      },
    },
    { provide: DiscoveryService, inject: [InstanceSource], useFactory: (source: InstanceSource) => new DiscoveryService(source) },
  ],
  exports: [DiscoveryService],
})
export class DiscoveryModule {}
