import { createHash, randomUUID } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Observable, defer, from, map, switchMap } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { DiscoveryRequest, DiscoveryResponse, XdsNode } from '../../common/xds-types.js';
import { CallerIdentity } from '../auth/caller-identity.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { Coalescer, coalescingKey } from './coalescer.js';
import { FanoutService } from './fanout.service.js';
import { FanoutResult, InstanceAnswer, InstanceError, isAnswer, isError } from './fanout-result.js';
import { rpcError } from './grpc-errors.js';
import { InstanceHealth } from './instance-health.js';
import { StrategyRegistry } from './merge/strategy-registry.js';
import { ResponseEnvelope } from './response-envelope.js';

export const MISSING_INSTANCES_HEADER = 'x-istioctl-proxy-missing';
/** Caller metadata istiod needs: its token (identity and per-namespace filtering) and cluster id. */
const FORWARDED_METADATA = ['authorization', 'clusterid'];

export interface CallerContext {
  metadata: Metadata;
  /** The caller's gRPC deadline, if it set one. */
  deadline?: Date;
  /** Set by the auth guard. */
  identity?: CallerIdentity;
}

export interface FanoutStats {
  asked: number;
  answered: string[];
  failed: string[];
  skipped: number;
}

export interface AggregateOutcome {
  response: DiscoveryResponse;
  missing: InstanceError[];
  stats: FanoutStats;
  /** True when this caller joined an identical in-flight (or cached) fan-out. */
  coalesced: boolean;
}

/** One istioctl request -> fan-out to every istiod -> merge strategy -> one response. */
@Injectable()
export class AggregationService {
  private readonly logger = new Logger('Aggregation');
  private readonly coalescer: Coalescer<AggregateOutcome>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly discovery: DiscoveryService,
    private readonly fanout: FanoutService,
    private readonly strategies: StrategyRegistry,
    private readonly metrics: MetricsService,
    private readonly health: InstanceHealth,
    private readonly envelope: ResponseEnvelope,
  ) {
    this.coalescer = new Coalescer(config.responseCacheMs);
  }

  /**
   * Identical concurrent requests (type, names, node, and the same caller — istiod filters answers
   * per caller, so different callers never share) ride on one fan-out; each gets its own nonce.
   */
  aggregate(request: DiscoveryRequest, node: XdsNode, caller: CallerContext): Observable<AggregateOutcome> {
    const key = coalescingKey([request.type_url, request.resource_names, request.version_info, node, callerKey(caller)]);
    let joined = false;
    return this.coalescer
      .run(
        key,
        () => this.fanOutAndMerge(request, node, caller),
        () => {
          joined = true;
          this.metrics.coalesced.inc({ type_url: request.type_url });
        },
      )
      .pipe(map((outcome) => (joined ? { ...outcome, coalesced: true, response: { ...outcome.response, nonce: randomUUID() } } : outcome)));
  }

  private fanOutAndMerge(request: DiscoveryRequest, node: XdsNode, caller: CallerContext): Observable<AggregateOutcome> {
    return defer(() => {
      const instances = this.discovery.snapshot();
      if (instances.length === 0) {
        throw rpcError(status.UNAVAILABLE, `no istiod instances discovered in ${this.discovery.describeScope()}`);
      }
      const strategy = this.strategies.resolve(request.type_url);
      const upstreamRequest: DiscoveryRequest = { ...request, node };
      const stopTimer = this.metrics.fanoutDuration.startTimer({ type_url: request.type_url });
      return this.fanout
        .fanOut(instances, upstreamRequest, forwardedMetadata(caller.metadata), {
          timeoutMs: this.timeoutFor(caller.deadline),
          isConclusive: strategy.isConclusive ? (answer) => strategy.isConclusive!(request, answer) : undefined,
        })
        .pipe(
          switchMap((results) => {
            stopTimer();
            this.observe(results);
            const { answers, errors } = this.applyPolicy(request, results);
            const log = (message: string) => this.logger.log(`${request.type_url}: ${message}`);
            return from(Promise.resolve(strategy.merge(request, answers, { log }))).pipe(
              map((merged) => ({
                response: this.envelope.wrap(request, merged, answers),
                missing: errors,
                stats: statsOf(results),
                coalesced: false,
              })),
            );
          }),
        );
    });
  }

  private observe(results: FanoutResult[]): void {
    this.health.record(results);
    for (const result of results) {
      if (isAnswer(result))
        this.metrics.istiodDuration.observe({ instance: result.instance.name, outcome: 'answer' }, result.latencyMs / 1000);
      if (isError(result)) {
        this.metrics.istiodDuration.observe({ instance: result.instance.name, outcome: 'error' }, result.latencyMs / 1000);
        this.metrics.istiodErrors.inc({ instance: result.instance.name, reason: result.error.reason });
      }
    }
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
      throw rpcError(
        status.UNAVAILABLE,
        `${errors.length} of ${results.length} istiod instances failed (PARTIAL_RESULTS=deny): ${reasons}`,
        trailers,
      );
    }
    this.metrics.partialAnswers.inc({ type_url: request.type_url });
    this.logger.warn(`${request.type_url}: partial answer, missing ${errors.length} of ${results.length} istiod instances: ${reasons}`);
    return { answers, errors };
  }
}

function statsOf(results: FanoutResult[]): FanoutStats {
  return {
    asked: results.length,
    answered: results.filter(isAnswer).map((r) => r.instance.name),
    failed: results.filter(isError).map((r) => r.instance.name),
    skipped: results.filter((r) => 'skipped' in r).length,
  };
}

/**
 * Who the answer is for. A verified subject when auth ran; otherwise (AUTH_MODE=none) the token
 * itself, hashed, since istiod will authorize each token separately.
 */
function callerKey(caller: CallerContext): string[] {
  const clusterIds = caller.metadata.get('clusterid').map(String);
  if (caller.identity && caller.identity.subject !== 'unverified') return [caller.identity.subject, ...clusterIds];
  const token = caller.metadata.get('authorization').map(String).join(',');
  return [createHash('sha256').update(token).digest('base64url'), ...clusterIds];
}

function forwardedMetadata(incoming: Metadata): Metadata {
  const outgoing = new Metadata();
  for (const key of FORWARDED_METADATA) {
    for (const value of incoming.get(key)) outgoing.add(key, value);
  }
  return outgoing;
}
