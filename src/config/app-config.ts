import type { TracingSettings } from './tracing-settings.js';

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
  /** MAX_REQUEST_BYTES: largest request message accepted from a caller (answers: MAX_MESSAGE_BYTES). */
  maxRequestBytes: number;

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
  /** RESPONSE_CACHE_MAX_BYTES: the response cache's bound; the oldest entries go first past it. */
  responseCacheMaxBytes: number;
  /** ANSWER_BUFFER_POOL_BYTES: buffers of sent answers (1 MiB and up) kept for the next large answers; 0 keeps none. */
  answerBufferPoolBytes: number;
  /** MAX_INFLIGHT_ANSWER_BYTES: istiod answers held at once; fan-outs past it wait their turn. */
  maxInflightAnswerBytes: number;
  /** ANSWER_BUDGET_WAIT_MS: how long a fan-out may wait for answer memory before RESOURCE_EXHAUSTED. */
  answerBudgetWaitMs: number;
  /** ANSWER_BUDGET_MAX_WAITING: fan-outs that may wait for answer memory at once; more get RESOURCE_EXHAUSTED. */
  answerBudgetMaxWaiting: number;
  maxConcurrentStreams: number;
  maxStreamsPerCaller: number;
  /** MAX_REQUESTS_PER_STREAM: requests (ACKs included) one stream may send; the next gets RESOURCE_EXHAUSTED. */
  maxRequestsPerStream: number;
  /** STREAM_IDLE_TIMEOUT_MS: a stream with no request in flight for this long is ended (OK status). */
  streamIdleTimeoutMs: number;
  /** HTTP2_STREAM_RESET_BURST / HTTP2_STREAM_RESET_RATE: node:http2's per-connection guard against rapid resets. */
  http2StreamResetBurst: number;
  http2StreamResetRate: number;
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
  /** TOKEN_CACHE_SIZE: the most successful verifications remembered (tokenreview, jwks), by hash; the oldest go first. */
  tokenCacheSize: number;
  /** JWT_CACHE_MS: how long a jwks verification is reused (never past the token's exp); 0: every stream verifies. */
  jwtCacheMs: number;
  /** TOKENREVIEW_TIMEOUT_MS: how long one cluster may take to answer a TokenReview; past it UNAVAILABLE. */
  tokenReviewTimeoutMs: number;
  /** TOKEN_REJECT_CACHE_MS: how long a token every cluster rejected is refused without a new review. */
  tokenRejectCacheMs: number;
  /** TOKEN_REJECT_CACHE_SIZE: the most rejected tokens remembered (by hash); the oldest go first. */
  tokenRejectCacheSize: number;

  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** OTEL_TRACES_EXPORTER / OTLP endpoint / protocol: which span exporters start (none: tracing off). */
  tracing: TracingSettings;
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
