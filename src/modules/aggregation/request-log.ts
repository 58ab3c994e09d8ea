import { status } from '@grpc/grpc-js';
import { Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { DiscoveryRequest } from '../../common/xds-types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AggregateOutcome } from './aggregate-outcome.js';

/** Who asked, as logged: the verified subject, and the cluster that accepted its token when known. */
export interface RequestCaller {
  subject: string;
  clusterId?: string;
}

/** One log line and one requests_total sample per istioctl request; never the caller's token. */
@Injectable()
export class RequestLog {
  private readonly logger = new Logger('Requests');

  constructor(private readonly metrics: MetricsService) {}

  answered(request: DiscoveryRequest, caller: RequestCaller, outcome: AggregateOutcome, durationMs: number): void {
    this.metrics.requests.inc({ type_url: this.metrics.typeUrls.label(request.type_url), code: 'OK' });
    this.logger.log({
      msg: 'istioctl request',
      ...callerFields(caller),
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

  failed(request: DiscoveryRequest, caller: RequestCaller, err: unknown, durationMs: number): void {
    const error = err instanceof RpcException ? (err.getError() as { code?: number; message?: string }) : undefined;
    const codeName = status[error?.code ?? status.UNKNOWN] ?? 'UNKNOWN';
    this.metrics.requests.inc({ type_url: this.metrics.typeUrls.label(request.type_url), code: codeName });
    this.logger.warn({
      msg: 'istioctl request failed',
      ...callerFields(caller),
      type_url: request.type_url,
      resource_names: request.resource_names,
      duration_ms: Math.round(durationMs),
      code: codeName,
      error: error?.message ?? String(err),
    });
  }
}

function callerFields({ subject, clusterId }: RequestCaller): { caller: string; cluster?: string } {
  return clusterId ? { caller: subject, cluster: clusterId } : { caller: subject };
}
