import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService as NestDiscoveryService } from '@nestjs/core';
import { APP_CONFIG, AppConfig } from '../../../config/app-config.js';
import { ConcatenateStrategy } from './concatenate.strategy.js';
import { MergeStrategy, MergeStrategyMarker, isMergeStrategy } from './merge-strategy.js';
import { loadMergePlugins } from './plugin-loader.js';
import { StrategyBinding, describeMatcher, isExactMatch, isPatternMatch } from './type-url-matcher.js';

/**
 * Picks the strategy for a type URL. Order: plugins before built-ins (so a plugin can replace a
 * built-in), exact strings before patterns, and the concatenate default last. A built-in's type URL
 * is the one in its @MergeStrategy decorator; a plugin's is its `typeUrl` property.
 */
@Injectable()
export class StrategyRegistry implements OnModuleInit {
  private readonly logger = new Logger(StrategyRegistry.name);
  private readonly bindings: StrategyBinding[] = [];
  private readonly fallback = new ConcatenateStrategy();

  constructor(
    private readonly nestDiscovery: NestDiscoveryService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const plugins = await loadMergePlugins(this.config.mergePlugins);
    for (const plugin of plugins) this.logger.log(`merge plugin "${plugin.name}" loaded for ${describeMatcher(plugin.typeUrl)}`);
    this.register([...plugins.map((plugin) => ({ typeUrl: plugin.typeUrl, strategy: plugin })), ...this.builtIns()]);
  }

  register(bindings: StrategyBinding[]): void {
    this.bindings.push(...bindings);
  }

  resolve(typeUrl: string): MergeStrategy {
    const binding =
      this.bindings.find((b) => isExactMatch(b.typeUrl, typeUrl)) ?? this.bindings.find((b) => isPatternMatch(b.typeUrl, typeUrl));
    return binding?.strategy ?? this.fallback;
  }

  private builtIns(): StrategyBinding[] {
    return this.nestDiscovery.getProviders({ metadataKey: MergeStrategyMarker.KEY }).flatMap((wrapper) => {
      const strategy: unknown = wrapper.instance;
      const typeUrl = this.nestDiscovery.getMetadataByDecorator(MergeStrategyMarker, wrapper);
      return typeUrl !== undefined && isMergeStrategy(strategy) ? [{ typeUrl, strategy }] : [];
    });
  }
}
