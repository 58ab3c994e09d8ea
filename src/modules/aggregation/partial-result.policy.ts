import { Metadata, status } from '@grpc/grpc-js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { DiscoveryRequest } from '../../common/xds-types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { FanoutResult, InstanceAnswer, InstanceError, isAnswer, isError } from './fanout-result.js';
import { boundedMessage, rpcError } from './grpc-errors.js';

/** Each replica's reason is cut to this before they are joined (see MAX_STATUS_MESSAGE_CHARS). */
const MAX_REASON_CHARS = 512;

/** Header and trailer naming the istiod instances an answer is missing. */
export const MISSING_INSTANCES_HEADER = 'x-istioctl-proxy-missing';

export interface MergeInput {
  answers: InstanceAnswer[];
  errors: InstanceError[];
}

/**
 * What to do when some istiod failed (PARTIAL_RESULTS). All failed: the first failure's code.
 * Some failed: `deny` refuses with UNAVAILABLE, `allow` merges the rest, logged and counted.
 * A refusal names the missing instances in the MISSING_INSTANCES_HEADER trailer.
 */
@Injectable()
export class PartialResultPolicy {
  private readonly logger = new Logger('Aggregation');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  apply(request: DiscoveryRequest, results: FanoutResult[]): MergeInput {
    const answers = results.filter(isAnswer);
    const errors = results.filter(isError);
    if (errors.length === 0) return { answers, errors };
    const reasons = errors.map((e) => `${e.instance.name}: ${boundedMessage(e.error.message, MAX_REASON_CHARS)}`).join('; ');
    const trailers = new Metadata();
    trailers.set(MISSING_INSTANCES_HEADER, errors.map((e) => e.instance.name).join(','));
    if (answers.length === 0) {
      this.logger.warn(`${request.type_url}: every istiod failed: ${reasons}`);
      throw rpcError(errors[0].error.code, `all ${errors.length} istiod instances failed: ${reasons}`, trailers);
    }
    const missing = `${errors.length} of ${results.length} istiod instances`;
    if (this.config.partialResults === 'deny') {
      this.logger.warn(`${request.type_url}: refusing a partial answer (PARTIAL_RESULTS=deny): ${reasons}`);
      throw rpcError(status.UNAVAILABLE, `${missing} failed (PARTIAL_RESULTS=deny): ${reasons}`, trailers);
    }
    this.metrics.partialAnswers.inc({ type_url: this.metrics.typeUrls.label(request.type_url) });
    this.logger.warn(`${request.type_url}: partial answer, missing ${missing}: ${reasons}`);
    return { answers, errors };
  }
}
