import type { V1Pod } from '@kubernetes/client-node';

export interface IstiodPodOptions {
  name: string;
  namespace?: string;
  /** status.podIP; omit for a pod that has not been scheduled/assigned an IP yet. */
  ip?: string;
  ready?: boolean;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  /** Replaces the default `{ app: 'istiod' }`. */
  labels?: Record<string, string>;
  /** Adds the `istio.io/rev` label, as istiod's Deployment for a revisioned control plane does. */
  revision?: string;
  /** Sets metadata.deletionTimestamp: the pod is shutting down but still listed. */
  terminating?: boolean;
}

/** A pod shaped like the ones an istiod Deployment creates, with only the fields discovery reads. */
export function istiodPod(options: IstiodPodOptions): V1Pod {
  const { name, namespace = 'istio-system', ip, ready = true, phase = 'Running', revision, terminating = false } = options;
  const labels = { ...(options.labels ?? { app: 'istiod' }), ...(revision ? { 'istio.io/rev': revision } : {}) };
  const now = new Date();
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels,
      ...(terminating ? { deletionTimestamp: now, deletionGracePeriodSeconds: 30 } : {}),
    },
    spec: {
      containers: [{ name: 'discovery', image: 'docker.io/istio/pilot:1.24.0', ports: [{ containerPort: 15012, name: 'grpc-xds' }] }],
    },
    status: {
      phase,
      ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}),
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
        { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now },
        { type: 'ContainersReady', status: ready ? 'True' : 'False', lastTransitionTime: now },
      ],
    },
  };
}
