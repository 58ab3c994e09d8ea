import { CoreV1Api, KubeConfig, V1Secret } from '@kubernetes/client-node';
import { Logger } from '@nestjs/common';
import { ConfigError } from '../../config/config.error.js';
import { BackoffOptions } from '../kubernetes/backoff.js';
import { describeKubeError } from '../kubernetes/kube-error.js';
import { ResilientWatch } from '../kubernetes/resilient-watch.js';
import { AuthClusters } from './auth-clusters.js';
import { TokenReviewer } from './cluster-token-review.js';

/** The label istiod selects its remote secrets by (`istioctl create-remote-secret` sets it). */
export const MULTICLUSTER_SECRET_LABEL = 'istio/multiCluster=true';
/** How many ignored cluster IDs one log line names. */
const MAX_IGNORED_NAMED = 10;

export interface RemoteSecretClustersOptions {
  /** The discovery cluster, where istiod's remote secrets live. */
  kubeConfig: KubeConfig;
  namespace: string;
  clusters: AuthClusters;
  /** Parses a Secret value (KubeConfigLoader.fromYaml). */
  parseKubeConfig: (yaml: string, description: string) => Promise<KubeConfig>;
  /** The reviewer for a learned cluster. */
  reviewerFor: (clusterId: string, kubeConfig: KubeConfig) => TokenReviewer;
  backoff?: BackoffOptions;
  onWatchRestart?: () => void;
}

interface Learned {
  yaml: string;
  origin: string;
}

/**
 * AUTH_CLUSTERS_FROM_REMOTE_SECRETS: the clusters istiod itself serves, learned the way istiod
 * learns them. Every Secret labelled istio/multiCluster=true in ISTIO_NAMESPACE maps each data key
 * (a cluster ID) to a kubeconfig; the Secrets are listed and watched, so added, changed and deleted
 * clusters apply without a restart. Static clusters (AUTH_CLUSTERS, AUTH_KUBECONFIG) win over a
 * Secret naming the same ID; past AUTH_MAX_CLUSTERS, further clusters are logged and ignored.
 */
export class RemoteSecretClusters {
  private readonly logger = new Logger('AuthClusters');
  /** What each learned cluster was made from; only clusters present in `clusters`, so bounded by it. */
  private readonly learned = new Map<string, Learned>();
  private watch?: ResilientWatch<V1Secret>;
  private applying: Promise<void> = Promise.resolve();
  private lastIgnored = '';

  constructor(private readonly options: RemoteSecretClustersOptions) {}

  /**
   * Lists the Secrets once, so callers of remote clusters are served from the first request, then
   * watches them. Forbidden stops startup (the ServiceAccount lacks list/watch on secrets); any other
   * failure is logged and left to the watch's retries.
   */
  async start(): Promise<void> {
    const { kubeConfig, namespace } = this.options;
    const api = kubeConfig.makeApiClient(CoreV1Api);
    const list = () => api.listNamespacedSecret({ namespace, labelSelector: MULTICLUSTER_SECRET_LABEL });
    try {
      await this.enqueue((await list()).items);
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === 403) {
        throw new ConfigError(
          'AUTH_CLUSTERS_FROM_REMOTE_SECRETS',
          `=true but Secrets in ${namespace} cannot be listed (forbidden): the proxy's ServiceAccount needs list and watch on secrets there`,
        );
      }
      this.logger.warn(`remote secrets in ${namespace} could not be listed (${describeKubeError(err)}); the watch keeps retrying`);
    }
    this.watch = new ResilientWatch<V1Secret>({
      kubeConfig,
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`,
      list,
      labelSelector: MULTICLUSTER_SECRET_LABEL,
      description: `remote secrets (${MULTICLUSTER_SECRET_LABEL}) in ${namespace}`,
      backoff: this.options.backoff,
      onRestart: this.options.onWatchRestart,
      onChange: (secrets) => void this.enqueue(secrets),
    });
    this.watch.start();
  }

  stop(): void {
    this.watch?.stop();
  }

  /** Applies snapshots one at a time, in arrival order (parsing a kubeconfig is asynchronous). */
  private enqueue(secrets: V1Secret[]): Promise<void> {
    this.applying = this.applying
      .then(() => this.apply(secrets))
      .catch((err: unknown) => this.logger.error(`remote secrets could not be applied: ${(err as Error)?.message ?? String(err)}`));
    return this.applying;
  }

  private async apply(secrets: V1Secret[]): Promise<void> {
    const wanted = this.wanted(secrets);
    const { clusters } = this.options;
    for (const [id, { origin }] of this.learned) {
      if (wanted.has(id)) continue;
      this.forget(id);
      this.logger.log(`cluster ${id} removed (was from ${origin}): its tokens are no longer accepted`);
    }
    const ignored: string[] = [];
    for (const [id, next] of wanted) {
      const known = clusters.get(id);
      if (known && known.source !== 'remote-secret') {
        ignored.push(`${id} (already ${known.origin})`);
        continue;
      }
      if (this.learned.get(id)?.yaml === next.yaml) continue;
      let kubeConfig: KubeConfig;
      try {
        kubeConfig = await this.options.parseKubeConfig(next.yaml, `${next.origin} key ${id}`);
      } catch (err) {
        if (this.forget(id)) this.logger.warn(`cluster ${id} removed: ${(err as Error).message}`);
        else this.logger.warn(`cluster ${id} ignored: ${(err as Error).message}`);
        continue;
      }
      const cluster = { id, source: 'remote-secret' as const, origin: next.origin, reviewer: this.options.reviewerFor(id, kubeConfig) };
      if (!clusters.set(cluster)) {
        ignored.push(`${id} (AUTH_MAX_CLUSTERS=${clusters.maxClusters} reached)`);
        continue;
      }
      this.logger.log(`cluster ${id} ${this.learned.has(id) ? 'updated' : 'added'} from ${next.origin}: its tokens are accepted`);
      this.learned.set(id, next);
    }
    this.reportIgnored(ignored);
  }

  /** Cluster ID -> kubeconfig, from Secrets in name order and keys in order; the first of a duplicate ID wins. */
  private wanted(secrets: V1Secret[]): Map<string, Learned> {
    const wanted = new Map<string, Learned>();
    const byName = [...secrets].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
    for (const secret of byName) {
      const origin = `Secret ${secret.metadata?.namespace ?? this.options.namespace}/${secret.metadata?.name ?? '?'}`;
      for (const [id, value] of Object.entries(secret.data ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
        if (wanted.has(id)) continue;
        wanted.set(id, { yaml: Buffer.from(value, 'base64').toString('utf8'), origin });
      }
    }
    return wanted;
  }

  private forget(id: string): boolean {
    if (!this.learned.delete(id)) return false;
    this.options.clusters.delete(id);
    return true;
  }

  /** One warning whenever the set of ignored clusters changes, not one per event. */
  private reportIgnored(ignored: string[]): void {
    const summary = ignored.join(', ');
    if (summary === this.lastIgnored) return;
    this.lastIgnored = summary;
    if (ignored.length === 0) return;
    const named = ignored.slice(0, MAX_IGNORED_NAMED).join(', ');
    const more = ignored.length > MAX_IGNORED_NAMED ? ` and ${ignored.length - MAX_IGNORED_NAMED} more` : '';
    this.logger.warn(`remote secret clusters ignored: ${named}${more}`);
  }
}
