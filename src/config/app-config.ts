/** The proxy's whole configuration, parsed once from the environment at start (see README). */
export interface AppConfig {
  grpcHost: string;
  grpcPort: number;
  httpHost: string;
  httpPort: number;
  plaintext: boolean;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsClientCaFile?: string;
  tlsReloadIntervalMs: number;
  maxMessageBytes: number;

  discovery: 'static' | 'kubernetes';
  staticInstances: StaticInstanceSpec[];
  istioNamespace: string;
  istiodSelector: string;
  istioRevision?: string;
  istiodPort: number;
  kubeContext?: string;
  kubeconfigPath?: string;
  upstreamMode: 'direct' | 'port-forward';
  watchBackoffInitialMs: number;
  watchBackoffMaxMs: number;

  fanoutTimeoutMs: number;
  deadlineMarginMs: number;
  /** LONG_DEBUG_TIMEOUT_MS: the longest per-istiod deadline a merge strategy may ask for (pprof profiles). */
  longDebugTimeoutMs: number;
  partialResults: 'allow' | 'deny';
  controlPlaneId: string;
  responseCacheMs: number;
  maxConcurrentStreams: number;
  maxStreamsPerCaller: number;
  shutdownTimeoutMs: number;
  readyRequiresReachable: boolean;
  reachableWindowMs: number;
  grpcKeepaliveMs: number;
  mergePlugins: string[];

  upstreamPlaintext: boolean;
  upstreamInsecure: boolean;
  upstreamCaFile?: string;
  upstreamServerName: string;
  upstreamKeepaliveMs: number;

  authMode: 'tokenreview' | 'jwks' | 'none';
  jwtAudiences: string[];
  jwtIssuer?: string;
  jwtJwksUri?: string;
  jwtJwksFile?: string;
  authKubeconfig?: string;
  /** AUTH_CLUSTER_ID: the cluster ID of AUTH_KUBECONFIG (or the discovery cluster); unset: none asserted. */
  authClusterId?: string;
  /** AUTH_CLUSTERS: the clusters whose ServiceAccount tokens are accepted; replaces AUTH_KUBECONFIG. */
  authClusters: AuthClusterSpec[];
  /** Also accept the clusters of istiod's remote secrets (label istio/multiCluster=true in ISTIO_NAMESPACE). */
  authClustersFromRemoteSecrets: boolean;
  authMaxClusters: number;
  authAllowedNamespaces: string[];
  authAllowedSubjects: string[];
  tokenCacheSize: number;

  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export interface StaticInstanceSpec {
  name: string;
  address: string;
  port: number;
  revision: string;
}

/** One `clusterID=kubeconfig` entry of AUTH_CLUSTERS. */
export interface AuthClusterSpec {
  clusterId: string;
  kubeconfigPath: string;
}

export const APP_CONFIG = Symbol('APP_CONFIG');
