import { DiscoveryRequest, DiscoveryResponse } from '../../../common/xds-types.js';
import { InstanceAnswer } from '../fanout-result.js';
import { MergeStrategy, emptyResponse } from './merge-strategy.js';

/**
 * `istioctl proxy-status <pod>`: the proxy is connected to exactly one replica, and the others answer
 * with zero resources. Take the first answer (in arrival order) that has resources and stop asking
 * the rest; if nobody has the pod, answer empty with OK so istioctl prints its own "not found".
 */
@MergeStrategy('istio.io/debug/config_dump')
export class ConfigDumpStrategy implements MergeStrategy {
  readonly name = 'config_dump';

  isConclusive(_request: DiscoveryRequest, answer: InstanceAnswer): boolean {
    return answer.response.resources.length > 0;
  }

  merge(request: DiscoveryRequest, answers: InstanceAnswer[]): DiscoveryResponse {
    const found = answers.filter((answer) => answer.response.resources.length > 0).sort((a, b) => a.arrival - b.arrival)[0];
    const chosen = found ?? answers[0];
    const response = emptyResponse(request, chosen?.response.version_info ?? '');
    response.resources = found ? found.response.resources : [];
    return response;
  }
}
