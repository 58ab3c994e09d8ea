import { Injectable } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import { FanoutResult, isAnswer, isError } from './fanout-result.js';
import { InstanceHealth, isCallerDenied } from './instance-health.js';

type Outcome = 'answer' | 'error' | 'denied';

/** The label values used so far for one instance, so its series can be removed when it goes. */
interface InstanceSeries {
  outcomes: Set<Outcome>;
  reasons: Set<string>;
}

/**
 * What one fan-out tells the operator: its duration, each istiod's latency and failures, and health.
 * istiod refusing the caller (PERMISSION_DENIED, UNAUTHENTICATED) is counted apart, not as a
 * failure of the instance. Instance-labelled series exist only for pods still in discovery.
 */
@Injectable()
export class FanoutMetrics {
  private readonly series = new Map<string, InstanceSeries>();
  /** The pods in discovery, once known: results of pods that left meanwhile are not recorded. */
  private current?: ReadonlySet<string>;

  constructor(
    private readonly metrics: MetricsService,
    private readonly health: InstanceHealth,
  ) {}

  /** Starts the fan-out duration timer; call the returned function when the answers are in. */
  startTimer(typeUrl: string): () => void {
    return this.metrics.fanoutDuration.startTimer({ type_url: this.metrics.typeUrls.label(typeUrl) });
  }

  observe(results: FanoutResult[]): void {
    const current = this.current;
    const known = current ? results.filter((result) => current.has(result.instance.name)) : results;
    this.health.record(known);
    for (const result of known) {
      const name = result.instance.name;
      if (isAnswer(result)) this.latency(name, 'answer', result.latencyMs);
      else if (isCallerDenied(result)) {
        this.latency(name, 'denied', result.latencyMs);
        this.metrics.callerDenied.inc({ reason: result.error.reason });
      } else if (isError(result)) {
        this.latency(name, 'error', result.latencyMs);
        this.metrics.istiodErrors.inc({ instance: name, reason: result.error.reason });
        this.seriesOf(name).reasons.add(result.error.reason);
      }
    }
  }

  /** Keeps only the named pods: every other's series and health record are removed. */
  retain(names: ReadonlySet<string>): void {
    this.current = names;
    this.health.retain(names);
    for (const [instance, { outcomes, reasons }] of this.series) {
      if (names.has(instance)) continue;
      for (const outcome of outcomes) this.metrics.istiodDuration.remove({ instance, outcome });
      for (const reason of reasons) this.metrics.istiodErrors.remove({ instance, reason });
      this.series.delete(instance);
    }
  }

  private latency(instance: string, outcome: Outcome, latencyMs: number): void {
    this.metrics.istiodDuration.observe({ instance, outcome }, latencyMs / 1000);
    this.seriesOf(instance).outcomes.add(outcome);
  }

  private seriesOf(instance: string): InstanceSeries {
    let series = this.series.get(instance);
    if (!series) this.series.set(instance, (series = { outcomes: new Set(), reasons: new Set() }));
    return series;
  }
}
