import { Injectable, applyDecorators } from '@nestjs/common';
import { DiscoveryService as NestDiscoveryService } from '@nestjs/core';
import { DiscoveryRequest, DiscoveryResponse } from '../../../common/xds-types.js';
import { IstiodInstance } from '../../discovery/istiod-instance.js';
import { InstanceAnswer, InstanceError } from '../fanout-result.js';

/** Which request type URLs a strategy handles: exact string, pattern, or predicate. */
export type TypeUrlMatcher = string | RegExp | ((typeUrl: string) => boolean);

/** What a strategy may use besides the answers. */
export interface MergeContext {
  /** Logs a notable merge decision (mixed versions, replica-local data...). */
  log(message: string): void;
  /**
   * The replicas that were asked but failed, in pod-name order (only when PARTIAL_RESULTS=allow
   * let the merge go ahead; all failed never reaches a strategy). Absent or empty: none failed.
   */
  failed?: readonly InstanceError[];
}

/** What a strategy's `timeoutMs` hook is told about per-replica deadlines. */
export interface TimeoutLimits {
  /** FANOUT_TIMEOUT_MS: the deadline every replica gets unless the strategy asks otherwise. */
  defaultMs: number;
  /** LONG_DEBUG_TIMEOUT_MS (never below defaultMs): the longest deadline granted; longer asks are capped. */
  maxMs: number;
}

/**
 * A merge strategy: turns the answers of every istiod that responded (in stable pod-name order,
 * failed ones already removed) into the single response istioctl receives.
 *
 * The core then sets a fresh `nonce`, the request's `type_url`, the merged `control_plane`, and
 * `version_info` from the first answer when the strategy left it empty.
 *
 * Which type URLs a strategy handles is said once: a built-in states it in `@MergeStrategy(typeUrl)`,
 * a plugin in its `typeUrl` property (see merge-plugin.ts).
 */
export interface MergeStrategy {
  /** Shown in logs and errors. */
  readonly name: string;
  merge(request: DiscoveryRequest, answers: InstanceAnswer[], context: MergeContext): DiscoveryResponse | Promise<DiscoveryResponse>;
  /**
   * Optional early exit: once an answer is conclusive (e.g. a config_dump that found the pod),
   * the fan-out stops waiting for, and cancels, the other instances.
   */
  isConclusive?(request: DiscoveryRequest, answer: InstanceAnswer): boolean;
  /**
   * Optional, before the fan-out: the replicas to ask, for requests that must not reach every one
   * (a CPU profile of one process). Gets the ready instances in pod-name order and returns some of
   * them; the core keeps pod-name order, ignores instances it did not offer, and asks every
   * instance when the result is empty. Default: every instance.
   */
  selectInstances?(request: DiscoveryRequest, instances: readonly IstiodInstance[]): readonly IstiodInstance[];
  /**
   * Optional, before the fan-out: the per-replica deadline this request needs, in ms (a profile
   * that samples for `?seconds=30` needs more than FANOUT_TIMEOUT_MS). Capped at `limits.maxMs` and
   * by the caller's own gRPC deadline. Undefined: `limits.defaultMs`.
   */
  timeoutMs?(request: DiscoveryRequest, limits: TimeoutLimits): number | undefined;
  /**
   * Optional, before the fan-out: the request each replica receives, when it differs from the
   * caller's (the proxy's own `istio.io/debug` paths ask every replica's `istio.io/debug/syncz`).
   * Only `type_url`, `resource_names`, `version_info` and `response_nonce` are taken from it; the
   * node is always the stream's, and the caller's token and `clusterid` go with it unchanged, so
   * istiod applies the caller's rights and namespace filter. Each replica's answer is the first
   * response of the returned `type_url`; `merge` still gets the caller's request, and the merged
   * response carries the caller's `type_url`. Default: the caller's request.
   */
  upstreamRequest?(request: DiscoveryRequest): DiscoveryRequest;
}

/**
 * Marks a provider class as a built-in merge strategy and holds its type URL matcher; the registry
 * finds both at start through Nest's discovery.
 */
export const MergeStrategyMarker = NestDiscoveryService.createDecorator<TypeUrlMatcher>();

/**
 * `@MergeStrategy('istio.io/debug/syncz')` on a class implementing MergeStrategy: the only place a
 * built-in names its type URL. List the class in BUILT_IN_STRATEGIES to register it.
 */
export function MergeStrategy(typeUrl: TypeUrlMatcher): ClassDecorator {
  return applyDecorators(Injectable(), MergeStrategyMarker(typeUrl));
}

/** An empty response with the request's type; strategies fill in resources. */
export function emptyResponse(request: DiscoveryRequest, versionInfo = ''): DiscoveryResponse {
  return { version_info: versionInfo, resources: [], type_url: request.type_url, nonce: '', control_plane: null };
}

export function isMergeStrategy(value: unknown): value is MergeStrategy {
  return typeof value === 'object' && value !== null && typeof (value as Partial<MergeStrategy>).merge === 'function';
}
