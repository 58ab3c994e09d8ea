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

export const APP_CONFIG = Symbol('APP_CONFIG');
