/**
 * Injection token of the discovery cluster's KubeConfig (KUBECONFIG / KUBE_CONTEXT, else the
 * in-cluster service account); `undefined` when the configuration reads no cluster.
 */
export const KUBE_CONFIG = Symbol('KUBE_CONFIG');
