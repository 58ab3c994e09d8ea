import { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { Observable, ReplaySubject, share } from 'rxjs';
import { InstanceSource } from './instance-source.js';
import { IstiodInstance } from './istiod-instance.js';
import { BackoffOptions } from '../kubernetes/backoff.js';
import { ResilientWatch } from '../kubernetes/resilient-watch.js';
import { REVISION_LABEL, isReadyIstiod } from './pod-readiness.js';

export interface KubernetesSourceOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** e.g. `app=istiod`; a revision adds `istio.io/rev=<rev>`. */
  labelSelector: string;
  istiodPort: number;
  backoff?: BackoffOptions;
  /** Maps a ready pod to where it is dialled (pod IP by default; a local tunnel in port-forward mode). */
  toInstance?: (pod: V1Pod, port: number) => IstiodInstance;
  onWatchRestart?: () => void;
  /** Every pod matching the selector, ready or not (for the discovered-instances metric). */
  onPodsListed?: (count: number) => void;
}

/**
 * DISCOVERY=kubernetes: an informer (list + watch) on istiod pods. Updates arrive as watch events;
 * no Kubernetes API call is made per istioctl request.
 */
export class KubernetesInstanceSource extends InstanceSource {
  readonly instances$: Observable<IstiodInstance[]>;

  constructor(private readonly options: KubernetesSourceOptions) {
    super();
    const api = options.kubeConfig.makeApiClient(CoreV1Api);
    const toInstance = options.toInstance ?? podIpInstance;
    this.instances$ = new Observable<IstiodInstance[]>((subscriber) => {
      const watch = new ResilientWatch<V1Pod>({
        kubeConfig: options.kubeConfig,
        path: `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/pods`,
        list: () => api.listNamespacedPod({ namespace: options.namespace, labelSelector: options.labelSelector }),
        labelSelector: options.labelSelector,
        description: `pods in ${options.namespace} (${options.labelSelector})`,
        backoff: options.backoff,
        onRestart: options.onWatchRestart,
        onChange: (pods) => {
          options.onPodsListed?.(pods.length);
          subscriber.next(pods.filter(isReadyIstiod).map((pod) => toInstance(pod, options.istiodPort)));
        },
      });
      watch.start();
      return () => watch.stop();
    }).pipe(share({ connector: () => new ReplaySubject(1), resetOnRefCountZero: true }));
  }

  describe(): string {
    return `namespace ${this.options.namespace} (selector ${this.options.labelSelector})`;
  }
}

function podIpInstance(pod: V1Pod, port: number): IstiodInstance {
  return {
    name: pod.metadata?.name ?? pod.status?.podIP ?? 'unknown',
    address: pod.status?.podIP ?? '',
    port,
    revision: pod.metadata?.labels?.[REVISION_LABEL] ?? 'default',
  };
}

/** `app=istiod` plus `istio.io/rev=<rev>` when a revision is configured. */
export function istiodSelector(selector: string, revision?: string): string {
  return revision ? `${selector},${REVISION_LABEL}=${revision}` : selector;
}
