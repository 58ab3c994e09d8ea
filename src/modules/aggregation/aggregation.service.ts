import { status } from '@grpc/grpc-js';
import { Injectable, Logger } from '@nestjs/common';
import { Observable, defer, from, map, switchMap, tap } from 'rxjs';
import { DiscoveryRequest, XdsNode } from '../../common/xds-types.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { RequestTrace } from '../tracing/request-trace.js';
import { Tracing } from '../tracing/tracing.js';
import { AggregateOutcome, statsOf } from './aggregate-outcome.js';
import { AnswerMemory } from './answer-memory.js';
import { CallerContext } from './caller-context.js';
import { DeadlineBudget } from './deadline-budget.js';
import { FanoutMetrics } from './fanout-metrics.js';
import { planFanout } from './fanout-plan.js';
import { FanoutResult } from './fanout-result.js';
import { FanoutOptions, FanoutService } from './fanout.service.js';
import { forwardedMetadata } from './forwarded-metadata.js';
import { rpcError } from './grpc-errors.js';
import { MergeStrategy } from './merge/merge-strategy.js';
import { StrategyRegistry } from './merge/strategy-registry.js';
import { PartialResultPolicy } from './partial-result.policy.js';
import { RequestCoalescing } from './request-coalescing.js';
import { ResponseEnvelope } from './response-envelope.js';

/**
 * One istioctl request -> (coalesced) turn for answer memory -> fan-out to every istiod within the
 * deadline budget -> partial-result policy -> merge strategy -> response envelope.
 */
@Injectable()
export class AggregationService {
  private readonly logger = new Logger('Aggregation');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly fanout: FanoutService,
    private readonly strategies: StrategyRegistry,
    private readonly coalescing: RequestCoalescing,
    private readonly budget: DeadlineBudget,
    private readonly policy: PartialResultPolicy,
    private readonly metrics: FanoutMetrics,
    private readonly envelope: ResponseEnvelope,
    private readonly answerMemory: AnswerMemory,
    private readonly tracing: Tracing = Tracing.off,
  ) {}

  aggregate(request: DiscoveryRequest, node: XdsNode, caller: CallerContext): Observable<AggregateOutcome> {
    return this.tracing.traceRequest(request, caller, (trace) =>
      this.coalescing.share(request, node, caller, () => this.fanOutAndMerge(request, node, caller, trace)),
    );
  }

  private fanOutAndMerge(
    request: DiscoveryRequest,
    node: XdsNode,
    caller: CallerContext,
    trace?: RequestTrace,
  ): Observable<AggregateOutcome> {
    const stopTimer = this.metrics.startTimer(request.type_url);
    // Answer memory first (MAX_INFLIGHT_ANSWER_BYTES): istiods and deadlines are taken when the fan-out really starts.
    return this.answerMemory.run(request.type_url, this.discovery.snapshot().length, (reservation) =>
      defer(() => {
        const instances = this.discovery.snapshot();
        if (instances.length === 0) {
          throw rpcError(status.UNAVAILABLE, `no istiod instances discovered in ${this.discovery.describeScope()}`);
        }
        const strategy = this.strategies.resolve(request.type_url);
        const plan = planFanout(strategy, request, instances, this.budget, caller.deadline);
        const options = { timeoutMs: plan.timeoutMs, isConclusive: conclusiveFor(strategy, request), trace };
        const metadata = forwardedMetadata(caller.metadata, caller.identity?.clusterId);
        return this.fanout.fanOut(plan.instances, { ...plan.request, node }, metadata, options).pipe(
          tap((results) => {
            stopTimer();
            this.metrics.observe(results);
            this.answerMemory.answersArrived(request.type_url, reservation, results);
          }),
          switchMap((results) => this.merge(request, strategy, results)),
        );
      }),
    );
  }

  private merge(request: DiscoveryRequest, strategy: MergeStrategy, results: FanoutResult[]): Observable<AggregateOutcome> {
    const { answers, errors } = this.policy.apply(request, results);
    const log = (message: string) => this.logger.log(`${request.type_url}: ${message}`);
    return from(Promise.resolve(strategy.merge(request, answers, { log, failed: errors }))).pipe(
      map((merged) => ({
        response: this.envelope.wrap(request, merged, answers),
        missing: errors,
        stats: statsOf(results),
        coalesced: false,
      })),
    );
  }
}

function conclusiveFor(strategy: MergeStrategy, request: DiscoveryRequest): FanoutOptions['isConclusive'] {
  return strategy.isConclusive ? (answer) => strategy.isConclusive?.(request, answer) ?? false : undefined;
}
