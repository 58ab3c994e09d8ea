import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService as NestDiscoveryService } from '@nestjs/core';
import { APP_CONFIG, AppConfig } from '../../../config/app-config.js';
import { ConcatenateStrategy } from './concatenate.strategy.js';
import { MergeStrategy, MergeStrategyMarker, isMergeStrategy } from './merge-strategy.js';
import { loadMergePlugins } from './plugin-loader.js';

/**
 * Picks the strategy for a type URL. Order: plugins before built-ins (so a plugin can replace a
 * built-in), exact strings before patterns, and the concatenate default last.
 */
@Injectable()
export class StrategyRegistry implements OnModuleInit {
  private readonly logger = new Logger(StrategyRegistry.name);
  private readonly strategies: MergeStrategy[] = [];
  private readonly fallback = new ConcatenateStrategy();

  constructor(
    private readonly nestDiscovery: NestDiscoveryService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const plugins = await loadMergePlugins(this.config.mergePlugins);
    for (const plugin of plugins) this.logger.log(`merge plugin "${plugin.name}" loaded for ${describe(plugin.typeUrl)}`);
    const builtIns = this.nestDiscovery
      .getProviders({ metadataKey: MergeStrategyMarker.KEY })
      .map((wrapper) => wrapper.instance as unknown)
      .filter(isMergeStrategy);
    this.register([...plugins, ...builtIns]);
  }

  register(strategies: MergeStrategy[]): void {
    this.strategies.push(...strategies);
  }

  resolve(typeUrl: string): MergeStrategy {
    return (
      this.strategies.find((s) => typeof s.typeUrl === 'string' && s.typeUrl === typeUrl) ??
      this.strategies.find((s) =>
        s.typeUrl instanceof RegExp ? s.typeUrl.test(typeUrl) : typeof s.typeUrl === 'function' && s.typeUrl(typeUrl),
      ) ??
      this.fallback
    );
  }
}

function describe(matcher: MergeStrategy['typeUrl']): string {
  return typeof matcher === 'string' ? matcher : matcher instanceof RegExp ? matcher.toString() : 'custom matcher';
}
