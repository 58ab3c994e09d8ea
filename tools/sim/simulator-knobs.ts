/** istiod's remote-cluster sync states, as `/debug/clusterz` reports them (`cluster.DebugInfo.SyncStatus`). */
export type ClusterSyncStatus = 'synced' | 'syncing' | 'timeout' | 'closed';

/** Behaviour switches read on every stream/request, so tests can flip them between requests. */
export interface SimulatorKnobs {
  /** New streams fail with UNAVAILABLE, as before istiod's caches have synced. */
  notReady: boolean;
  /** New streams fail with RESOURCE_EXHAUSTED, istiod's new-stream rate limit. */
  rateLimited: boolean;
  /** Wait this long before handling each request (requests on one stream are handled in order). */
  delayMs: number;
  /** Record requests but never answer them and never close the stream. */
  hang: boolean;
  /** istiod < 1.25 put `control_plane` on every response, not only on syncz. */
  controlPlaneOnAllTypes: boolean;
  /** istiod ≤ 1.22 syncz: fixed CDS/LDS/EDS/RDS/ECDS entries, no `last_updated`. */
  legacySyncz: boolean;
  /**
   * istio/istio#59970 `callerNamespaceFilter`: a verified caller outside istiod's namespace sees only
   * its own namespace's proxies in syncz and gets empty config_dumps (and `Proxy not connected`
   * debug bodies) for the others.
   */
  namespaceFilter: boolean;
  /** Grow syncz, config_dump and `istio.io/debug` answers by at least this many bytes. */
  paddingBytes: number;
  /** Destroy the caller's TCP connection instead of answering the next request. */
  resetMidAnswer: boolean;
  /**
   * Callers without a verified identity (no `verifyToken` configured) get UNAUTHENTICATED
   * `authentication required` on debug types, like istiod's plaintext port. Off by default so
   * token-less simulators answer everything.
   */
  requireIdentity: boolean;
  /**
   * This replica's view of its remote clusters in `/debug/clusterz`: listed clusters are reported
   * with this state (even without connected proxies); clusters of connected proxies default to
   * `synced`. Replicas watch remote clusters independently, so their bodies may differ.
   */
  clusterSync: Record<string, ClusterSyncStatus>;
  /**
   * Encode syncz `node.metadata` entries in reverse order. Go marshals maps in random order, so two
   * replicas' bytes for one proxy differ; this shows nothing keys on encoded bytes.
   */
  reverseMetadataOrder: boolean;
}

export function defaultKnobs(): SimulatorKnobs {
  return {
    notReady: false,
    rateLimited: false,
    delayMs: 0,
    hang: false,
    controlPlaneOnAllTypes: false,
    legacySyncz: false,
    namespaceFilter: false,
    paddingBytes: 0,
    resetMidAnswer: false,
    requireIdentity: false,
    clusterSync: {},
    reverseMetadataOrder: false,
  };
}
