import { randomUUID } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Observable, defer, from, map, switchMap } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { DiscoveryRequest, DiscoveryResponse, XdsNode } from '../../common/xds-types.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { FanoutService } from './fanout.service.js';
import { FanoutResult, InstanceAnswer, InstanceError, isAnswer, isError } from './fanout-result.js';
import { rpcError } from './grpc-errors.js';
import { ControlPlaneIdentifier, mergeIdentifiers, parseIdentifier } from './merge/control-plane.js';
import { StrategyRegistry } from './merge/strategy-registry.js';

export const MISSING_INSTANCES_HEADER = 'x-istioctl-proxy-missing';
/** Caller metadata istiod needs: its token (identity and per-namespace filtering) and cluster id. */
const FORWARDED_METADATA = ['authorization', 'clusterid'];

export interface CallerContext {
  metadata: Metadata;
  /** The caller's gRPC deadline, if it set one. */
  deadline?: Date;
}

export interface AggregateOutcome {
  response: DiscoveryResponse;
  missing: InstanceError[];
}

/** One istioctl request -> fan-out to every istiod -> merge strategy -> one response. */
@Injectable()
export class AggregationService {
  private readonly logger = new Logger('Aggregation');
  /** istiod >= 1.25 sends control_plane on syncz only; remember each replica's for the other types. */
  private readonly identifiers = new Map<string, ControlPlaneIdentifier>();
  private lastVersionMix = '';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly discovery: DiscoveryService,
    private readonly fanout: FanoutService,
    private readonly strategies: StrategyRegistry,
  ) {}

  aggregate(request: DiscoveryRequest, node: XdsNode, caller: CallerContext): Observable<AggregateOutcome> {
    return defer(() => {
      const instances = this.discovery.snapshot();
      if (instances.length === 0) {
        throw rpcError(status.UNAVAILABLE, `no istiod instances discovered in ${this.discovery.describeScope()}`);
      }
      const strategy = this.strategies.resolve(request.type_url);
      const upstreamRequest: DiscoveryRequest = { ...request, node };
      return this.fanout
        .fanOut(instances, upstreamRequest, forwardedMetadata(caller.metadata), {
          timeoutMs: this.timeoutFor(caller.deadline),
          isConclusive: strategy.isConclusive ? (answer) => strategy.isConclusive!(request, answer) : undefined,
        })
        .pipe(
          switchMap((results) => {
            const { answers, errors } = this.applyPolicy(request, results);
            const log = (message: string) => this.logger.log(`${request.type_url}: ${message}`);
            return from(Promise.resolve(strategy.merge(request, answers, { log }))).pipe(
              map((merged) => ({ response: this.finish(request, merged, answers), missing: errors })),
            );
          }),
        );
    });
  }

  private timeoutFor(callerDeadline: Date | undefined): number {
    if (!callerDeadline || !Number.isFinite(callerDeadline.getTime())) return this.config.fanoutTimeoutMs;
    const callerBudget = callerDeadline.getTime() - Date.now() - this.config.deadlineMarginMs;
    return Math.max(1, Math.min(this.config.fanoutTimeoutMs, callerBudget));
  }

  private applyPolicy(request: DiscoveryRequest, results: FanoutResult[]): { answers: InstanceAnswer[]; errors: InstanceError[] } {
    const answers = results.filter(isAnswer);
    const errors = results.filter(isError);
    if (errors.length === 0) return { answers, errors };
    const reasons = errors.map((e) => `${e.instance.name}: ${e.error.message}`).join('; ');
    const names = errors.map((e) => e.instance.name).join(',');
    const trailers = new Metadata();
    trailers.set(MISSING_INSTANCES_HEADER, names);
    if (answers.length === 0) {
      this.logger.warn(`${request.type_url}: every istiod failed: ${reasons}`);
      throw rpcError(errors[0].error.code, `all ${errors.length} istiod instances failed: ${reasons}`, trailers);
    }
    if (this.config.partialResults === 'deny') {
      this.logger.warn(`${request.type_url}: refusing a partial answer (PARTIAL_RESULTS=deny): ${reasons}`);
      throw rpcError(status.UNAVAILABLE, `${errors.length} of ${results.length} istiod instances failed (PARTIAL_RESULTS=deny): ${reasons}`, trailers);
    }
    this.logger.warn(`${request.type_url}: partial answer, missing ${errors.length} of ${results.length} istiod instances: ${reasons}`);
    return { answers, errors };
  }

  /** The envelope every merged response gets, whatever the strategy did. */
  private finish(request: DiscoveryRequest, merged: DiscoveryResponse, answers: InstanceAnswer[]): DiscoveryResponse {
    const identifiers: ControlPlaneIdentifier[] = [];
    for (const { instance, response } of answers) {
      const parsed = parseIdentifier(response.control_plane?.identifier);
      if (parsed) this.identifiers.set(instance.name, parsed);
      const known = parsed ?? this.identifiers.get(instance.name);
      if (known) identifiers.push(known);
    }
    const { identifier, mixedVersions } = mergeIdentifiers(identifiers, this.config.controlPlaneId);
    const mix = mixedVersions?.join(',') ?? '';
    // Logged when the mix changes, not on every request; single-answer merges say nothing about it.
    if (mix && mix !== this.lastVersionMix) this.logger.warn(`istiod replicas run different versions: ${mix}`);
    if (identifiers.length > 1) this.lastVersionMix = mix;
    return {
      ...merged,
      type_url: request.type_url,
      nonce: randomUUID(),
      version_info: merged.version_info || answers[0]?.response.version_info || '',
      control_plane: { identifier: JSON.stringify(identifier) },
    };
  }
}

function forwardedMetadata(incoming: Metadata): Metadata {
  const outgoing = new Metadata();
  for (const key of FORWARDED_METADATA) {
    for (const value of incoming.get(key)) outgoing.add(key, value);
  }
  return outgoing;
}
