import { Controller, Get } from '@nestjs/common';
import { IstiodClientPool } from '../aggregation/istiod.client.js';
import { InstanceHealth } from '../aggregation/instance-health.js';
import { DiscoveryService } from '../discovery/discovery.service.js';

/** What an SRE looks at first when `proxy-status` looks short. */
@Controller('debug')
export class DebugController {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly health: InstanceHealth,
    private readonly pool: IstiodClientPool,
  ) {}

  @Get('instances')
  instances(): object {
    return {
      scope: this.discovery.describeScope(),
      synced: this.discovery.synced,
      instances: this.discovery.snapshot().map((instance) => ({
        name: instance.name,
        address: instance.address,
        port: instance.port,
        revision: instance.revision,
        ready: true,
        channelState: this.pool.channelState(instance.name),
        ...this.health.get(instance.name),
      })),
    };
  }
}
