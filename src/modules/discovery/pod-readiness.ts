import { V1Pod } from '@kubernetes/client-node';

/**
 * A pod istioctl requests may be sent to: Running, Ready=True, with an IP, and not Terminating
 * (a Terminating istiod still looks Running and broke istioctl for years: istio/istio#26300).
 */
export function isReadyIstiod(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    !!pod.status.podIP &&
    !pod.metadata?.deletionTimestamp &&
    (pod.status.conditions ?? []).some((condition) => condition.type === 'Ready' && condition.status === 'True')
  );
}

export const REVISION_LABEL = 'istio.io/rev';
