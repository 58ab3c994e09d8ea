import { DiscoveryRequest, DiscoveryResponse } from '../../../common/xds-types.js';
import { InstanceAnswer } from '../fanout-result.js';
import { MergeStrategy, emptyResponse } from './merge-strategy.js';

/** The default for any type URL no other strategy claims: every resource of every answer, in pod order. */
export class ConcatenateStrategy implements MergeStrategy {
  readonly name: string = 'concatenate';

  merge(request: DiscoveryRequest, answers: InstanceAnswer[]): DiscoveryResponse {
    const response = emptyResponse(request, answers[0]?.response.version_info ?? '');
    response.resources = answers.flatMap((answer) => answer.response.resources);
    return response;
  }
}
