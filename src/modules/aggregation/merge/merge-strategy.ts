import { Injectable, applyDecorators } from '@nestjs/common';
import { DiscoveryService as NestDiscoveryService } from '@nestjs/core';
import { DiscoveryRequest, DiscoveryResponse } from '../../../common/xds-types.js';
import { InstanceAnswer } from '../fanout-result.js';

/** Which request type URLs a strategy handles: exact string, pattern, or predicate. */
export type TypeUrlMatcher = string | RegExp | ((typeUrl: string) => boolean);

/** What a strategy may use besides the answers. */
export interface MergeContext {
  /** Logs a notable merge decision (mixed versions, replica-local data...). */
  log(message: string): void;
}

/**
 * A merge strategy: turns the answers of every istiod that responded (in stable pod-name order,
 * failed ones already removed) into the single response istioctl receives.
 *
 * The core then sets a fresh `nonce`, the request's `type_url`, the merged `control_plane`, and
 * `version_info` from the first answer when the strategy left it empty.
 */
export interface MergeStrategy {
  /** Shown in logs and errors. */
  readonly name: string;
  readonly typeUrl: TypeUrlMatcher;
  merge(request: DiscoveryRequest, answers: InstanceAnswer[], context: MergeContext): DiscoveryResponse | Promise<DiscoveryResponse>;
  /**
   * Optional early exit: once an answer is conclusive (e.g. a config_dump that found the pod),
   * the fan-out stops waiting for, and cancels, the other instances.
   */
  isConclusive?(request: DiscoveryRequest, answer: InstanceAnswer): boolean;
}

/** Marks a provider class as a built-in merge strategy, found at start through Nest's discovery. */
export const MergeStrategyMarker = NestDiscoveryService.createDecorator<TypeUrlMatcher>();

/** `@MergeStrategy('istio.io/debug/syncz')` on a class implementing MergeStrategy. */
export function MergeStrategy(typeUrl: TypeUrlMatcher): ClassDecorator {
  return applyDecorators(Injectable(), MergeStrategyMarker(typeUrl));
}

/** An empty response with the request's type; strategies fill in resources. */
export function emptyResponse(request: DiscoveryRequest, versionInfo = ''): DiscoveryResponse {
  return { version_info: versionInfo, resources: [], type_url: request.type_url, nonce: '', control_plane: null };
}

export function isMergeStrategy(value: unknown): value is MergeStrategy {
  const candidate = value as Partial<MergeStrategy> | null;
  return (
    !!candidate &&
    typeof candidate.merge === 'function' &&
    (typeof candidate.typeUrl === 'string' || candidate.typeUrl instanceof RegExp || typeof candidate.typeUrl === 'function')
  );
}
