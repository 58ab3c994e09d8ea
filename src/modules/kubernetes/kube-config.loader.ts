import type { KubeConfig } from '@kubernetes/client-node';
import { Injectable } from '@nestjs/common';

/** Where a KubeConfig comes from; every field optional, as in kubectl. */
export interface KubeConfigSource {
  /** A kubeconfig file; unset: KUBECONFIG, then ~/.kube/config, then the in-cluster service account. */
  path?: string;
  /** A context of that file; unset: its current-context. */
  context?: string;
  /** The variable a load error names (KUBECONFIG, AUTH_KUBECONFIG, ...). */
  variable?: string;
}

/**
 * Makes "a KubeConfig for this kubeconfig" for any module that talks to a cluster (discovery,
 * TokenReview, more clusters later). Throws ConfigError naming the variable on a bad file or context.
 */
@Injectable()
export class KubeConfigLoader {
  async load({ path, context, variable }: KubeConfigSource = {}): Promise<KubeConfig> {
    // Imported on first use: the Kubernetes client is large (~75 MB resident) and a static
    // deployment without TokenReview never needs it.
    const { loadKubeConfig } = await import('./kube-config.factory.js');
    return loadKubeConfig(context, path, variable);
  }

  /** A kubeconfig given as text (a remote secret's value); throws an Error naming `description`. */
  async fromYaml(yaml: string, description: string): Promise<KubeConfig> {
    const { kubeConfigFromYaml } = await import('./kube-config.factory.js');
    return kubeConfigFromYaml(yaml, description);
  }
}
