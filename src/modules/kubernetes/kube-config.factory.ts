import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../../config/config.error.js';

/**
 * The standard loading order: KUBECONFIG, then ~/.kube/config, then the in-cluster service
 * account when running in a pod. KUBE_CONTEXT picks a context of a kubeconfig file.
 */
export function loadKubeConfig(context?: string, kubeconfigPath?: string, variable = 'KUBECONFIG'): KubeConfig {
  const kc = new KubeConfig();
  try {
    // An explicit path (from our typed config) wins; otherwise client-node's default order.
    if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
    else kc.loadFromDefault();
  } catch (err) {
    throw new ConfigError(variable, `${kubeconfigPath ? `=${kubeconfigPath} ` : ''}could not be loaded: ${(err as Error).message}`);
  }
  if (context) {
    if (!kc.getContextObject(context)) throw new ConfigError('KUBE_CONTEXT', `=${context} is not a context of the loaded kubeconfig`);
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) {
    throw new ConfigError(variable, `names no cluster: run in a pod, or point ${variable} at a kubeconfig file`);
  }
  return kc;
}

/**
 * A kubeconfig given as text (e.g. a Secret written by `istioctl create-remote-secret`), on its
 * current context. Throws an Error naming `description`: such input arrives at run time, not at start.
 */
export function kubeConfigFromYaml(yaml: string, description: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromString(yaml);
  } catch (err) {
    throw new Error(`${description} is not a kubeconfig: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (!kc.getCurrentCluster()) throw new Error(`${description} names no cluster on its current context`);
  return kc;
}
