import { Injectable } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import { FanoutResult, isAnswer, isError } from './fanout-result.js';
import { InstanceHealth } from './instance-health.js';

/** What one fan-out tells the operator: its duration, each istiod's latency and failures, and health. */
@Injectable()
export class FanoutMetrics {
  constructor(
    private readonly metrics: MetricsService,
    private readonly health: InstanceHealth,
  ) {}

  /** Starts the fan-out duration timer; call the returned function when the answers are in. */
  startTimer(typeUrl: string): () => void {
    return this.metrics.fanoutDuration.startTimer({ type_url: typeUrl });
  }

  observe(results: FanoutResult[]): void {
    this.health.record(results);
    for (const result of results) {
      if (isAnswer(result)) this.latency(result.instance.name, 'answer', result.latencyMs);
      if (isError(result)) {
        this.latency(result.instance.name, 'error', result.latencyMs);
        this.metrics.istiodErrors.inc({ instance: result.instance.name, reason: result.error.reason });
      }
    }
  }

  private latency(instance: string, outcome: 'answer' | 'error', latencyMs: number): void {
    this.metrics.istiodDuration.observe({ instance, outcome }, latencyMs / 1000);
  }
}
