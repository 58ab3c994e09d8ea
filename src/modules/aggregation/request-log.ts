import { status } from '@grpc/grpc-js';
import { Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { DiscoveryRequest } from '../../common/xds-types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AggregateOutcome } from './aggregate-outcome.js';

/** One log line and one requests_total sample per istioctl request; never the caller's token. */
@Injectable()
export class RequestLog {
  private readonly logger = new Logger('Requests');

  constructor(private readonly metrics: MetricsService) {}

  answered(request: DiscoveryRequest, caller: string, outcome: AggregateOutcome, durationMs: number): void {
    this.metrics.requests.inc({ type_url: request.type_url, code: 'OK' });
    this.logger.log({
      msg: 'istioctl request',
      caller,
      type_url: request.type_url,
      resource_names: request.resource_names,
      instances_asked: outcome.stats.asked,
      instances_answered: outcome.stats.answered,
      instances_failed: outcome.stats.failed,
      instances_skipped: outcome.stats.skipped,
      coalesced: outcome.coalesced,
      resources: outcome.response.resources.length,
      duration_ms: Math.round(durationMs),
      code: 'OK',
    });
  }

  failed(request: DiscoveryRequest, caller: string, err: unknown, durationMs: number): void {
    const error = err instanceof RpcException ? (err.getError() as { code?: number; message?: string }) : undefined;
    const codeName = status[error?.code ?? status.UNKNOWN] ?? 'UNKNOWN';
    this.metrics.requests.inc({ type_url: request.type_url, code: codeName });
    this.logger.warn({
      msg: 'istioctl request failed',
      caller,
      type_url: request.type_url,
      resource_names: request.resource_names,
      duration_ms: Math.round(durationMs),
      code: codeName,
      error: error?.message ?? String(err),
    });
  }
}
