import { MergeStrategy, TypeUrlMatcher, isMergeStrategy } from './merge-strategy.js';

/**
 * A merge plugin: a strategy loaded from disk (MERGE_PLUGINS) rather than a Nest provider, so it
 * carries its type URL matcher on the object itself. A plugin module exports (default or named) one
 * or more plugins, as objects or classes with a no-argument constructor:
 *
 *   name:     string shown in logs
 *   typeUrl:  string | RegExp | (typeUrl) => boolean     which requests it merges
 *   merge(request, answers, context) -> DiscoveryResponse (or a Promise of one)
 *   isConclusive?(request, answer) -> boolean             optional early exit of the fan-out
 *   selectInstances?(request, instances) -> instances     optional: ask only some istiods
 *   timeoutMs?(request, { defaultMs, maxMs }) -> number   optional: a longer (or shorter) per-istiod deadline
 *   upstreamRequest?(request) -> request                  optional: ask istiod something else (e.g. syncz)
 *
 * See examples/count-proxies.plugin.js.
 */
export interface MergePlugin extends MergeStrategy {
  readonly typeUrl: TypeUrlMatcher;
}

export function isMergePlugin(value: unknown): value is MergePlugin {
  if (!isMergeStrategy(value)) return false;
  const typeUrl = (value as Partial<MergePlugin>).typeUrl;
  return typeof typeUrl === 'string' || typeUrl instanceof RegExp || typeof typeUrl === 'function';
}
