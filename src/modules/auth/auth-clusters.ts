import type { TokenReviewer } from './cluster-token-review.js';

/** Where a cluster came from: AUTH_CLUSTERS / AUTH_KUBECONFIG, or an istiod remote secret. */
export type AuthClusterSource = 'static' | 'remote-secret';

/** One cluster whose ServiceAccount tokens the proxy accepts. */
export interface AuthCluster {
  /** Sent to istiod as `clusterid`; '' = the single cluster of AUTH_KUBECONFIG without AUTH_CLUSTER_ID. */
  readonly id: string;
  readonly source: AuthClusterSource;
  /** e.g. `Secret istio-system/istio-remote-secret-west`, for logs. */
  readonly origin: string;
  readonly reviewer: TokenReviewer;
}

export interface AuthClustersOptions {
  /** AUTH_MAX_CLUSTERS: set() refuses new clusters beyond it. */
  maxClusters: number;
  /** After every change, with the number of clusters per source (a metrics gauge). */
  onChange?: (counts: Record<AuthClusterSource, number>) => void;
}

/**
 * The clusters tokens are reviewed against, bounded by AUTH_MAX_CLUSTERS. Static ones are set at
 * start; remote secrets add, replace and remove theirs while the proxy serves. A replaced cluster
 * is a new object, so a cached review by the old one is recognisably stale (see `isCurrent`).
 */
export class AuthClusters {
  private readonly byId = new Map<string, AuthCluster>();
  private readonly stoppers: (() => void)[] = [];
  private changes = 0;

  constructor(private readonly options: AuthClustersOptions) {}

  /** Adds or replaces a cluster; false (nothing changed) when it is new and the bound is reached. */
  set(cluster: AuthCluster): boolean {
    if (!this.byId.has(cluster.id) && this.byId.size >= this.options.maxClusters) return false;
    this.byId.set(cluster.id, cluster);
    this.changed();
    return true;
  }

  delete(id: string): boolean {
    const deleted = this.byId.delete(id);
    if (deleted) this.changed();
    return deleted;
  }

  get(id: string): AuthCluster | undefined {
    return this.byId.get(id);
  }

  /** Whether this exact cluster object is still the one known under its ID (not removed or replaced). */
  isCurrent(cluster: AuthCluster): boolean {
    return this.byId.get(cluster.id) === cluster;
  }

  all(): AuthCluster[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * Moves on whenever a cluster is added, replaced or removed: "no cluster accepted this token" is
   * only known for the set that was asked (a cluster added since may accept it).
   */
  get generation(): number {
    return this.changes;
  }

  get maxClusters(): number {
    return this.options.maxClusters;
  }

  /** Something that keeps this set up to date (a Secret watch), stopped with the app. */
  addStopper(stop: () => void): void {
    this.stoppers.push(stop);
  }

  onModuleDestroy(): void {
    for (const stop of this.stoppers.splice(0)) stop();
  }

  private changed(): void {
    this.changes++;
    const counts: Record<AuthClusterSource, number> = { static: 0, 'remote-secret': 0 };
    for (const cluster of this.byId.values()) counts[cluster.source]++;
    this.options.onChange?.(counts);
  }
}
