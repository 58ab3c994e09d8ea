import { AppConfig, AuthClusterSpec, StaticInstanceSpec } from './app-config.js';
import { ConfigError } from './config.error.js';
import { Env, EnvReader } from './env-parsers.js';
import { readTracingSettings } from './tracing-settings.js';

const MIB = 1024 * 1024;
const MAX_GRPC_MESSAGE_BYTES = 2 ** 31 - 1;
/** Byte budgets (answers in flight, the response cache) are capped at 1 TiB: no pod has more. */
const MAX_MEMORY_BYTES = 2 ** 40;
/** istiod sends GOAWAY too_many_pings for pings more often than every 15 s. */
const MIN_UPSTREAM_KEEPALIVE_MS = 15_000;
/** What a Secret data key (and so an istiod remote-secret cluster ID) may contain. */
const CLUSTER_ID = /^[-._a-zA-Z0-9]+$/;

/** Parses and validates the environment once; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): AppConfig {
  const read = new EnvReader(env);
  const istioNamespace = read.string('ISTIO_NAMESPACE', read.string('POD_NAMESPACE', 'istio-system'));
  const istioRevision = read.optionalString('ISTIO_REVISION');
  const discovery = read.choice('DISCOVERY', 'kubernetes', ['kubernetes', 'static'] as const);
  const istiodPort = read.port('ISTIOD_PORT', 15012);

  const config: AppConfig = {
    grpcHost: read.string('GRPC_HOST', '0.0.0.0'),
    grpcPort: read.port('GRPC_PORT', 9090),
    httpHost: read.string('HTTP_HOST', '0.0.0.0'),
    httpPort: read.port('HTTP_PORT', 8080),
    plaintext: read.boolean('PLAINTEXT', false),
    tlsCertFile: read.optionalString('TLS_CERT_FILE'),
    tlsKeyFile: read.optionalString('TLS_KEY_FILE'),
    tlsClientCaFile: read.optionalString('TLS_CLIENT_CA_FILE'),
    tlsReloadIntervalMs: read.integer('TLS_RELOAD_INTERVAL_MS', 5_000, { min: 50, max: 3_600_000 }),
    maxMessageBytes: read.integer('MAX_MESSAGE_BYTES', 256 * MIB, { min: 4 * MIB, max: MAX_GRPC_MESSAGE_BYTES }),
    maxRequestBytes: read.integer('MAX_REQUEST_BYTES', MIB, { min: 16 * 1024, max: MAX_GRPC_MESSAGE_BYTES }),

    discovery,
    staticInstances: parseStaticInstances(read.optionalString('ISTIOD_ADDRESSES'), istiodPort),
    istioNamespace,
    istiodSelector: read.string('ISTIOD_SELECTOR', 'app=istiod'),
    istioRevision,
    istiodPort,
    kubeContext: read.optionalString('KUBE_CONTEXT'),
    kubeconfigPath: read.optionalString('KUBECONFIG'),
    upstreamMode: read.choice('UPSTREAM_MODE', 'direct', ['direct', 'port-forward'] as const),
    watchBackoffInitialMs: read.integer('WATCH_BACKOFF_INITIAL_MS', 1_000, { min: 1, max: 60_000 }),
    watchBackoffMaxMs: read.integer('WATCH_BACKOFF_MAX_MS', 30_000, { min: 1, max: 600_000 }),

    fanoutTimeoutMs: read.integer('FANOUT_TIMEOUT_MS', 10_000, { min: 1, max: 300_000 }),
    deadlineMarginMs: read.integer('DEADLINE_MARGIN_MS', 250, { min: 0, max: 60_000 }),
    longDebugTimeoutMs: read.integer('LONG_DEBUG_TIMEOUT_MS', 60_000, { min: 1, max: 600_000 }),
    partialResults: read.choice('PARTIAL_RESULTS', 'allow', ['allow', 'deny'] as const),
    controlPlaneId: read.string('CONTROL_PLANE_ID', '<external>'),
    mergePlugins: read.list('MERGE_PLUGINS'),
    responseCacheMs: read.integer('RESPONSE_CACHE_MS', 0, { min: 0, max: 600_000 }),
    responseCacheMaxBytes: read.integer('RESPONSE_CACHE_MAX_BYTES', 64 * MIB, { min: 0, max: MAX_MEMORY_BYTES }),
    answerBufferPoolBytes: read.integer('ANSWER_BUFFER_POOL_BYTES', 64 * MIB, { min: 0, max: MAX_MEMORY_BYTES }),
    maxInflightAnswerBytes: read.integer('MAX_INFLIGHT_ANSWER_BYTES', 512 * MIB, { min: MIB, max: MAX_MEMORY_BYTES }),
    answerBudgetWaitMs: read.integer('ANSWER_BUDGET_WAIT_MS', 30_000, { min: 0, max: 600_000 }),
    answerBudgetMaxWaiting: read.integer('ANSWER_BUDGET_MAX_WAITING', 1000, { min: 0, max: 1_000_000 }),
    maxConcurrentStreams: read.integer('MAX_CONCURRENT_STREAMS', 1000, { min: 1, max: 1_000_000 }),
    maxStreamsPerCaller: read.integer('MAX_STREAMS_PER_CALLER', 100, { min: 1, max: 1_000_000 }),
    maxRequestsPerStream: read.integer('MAX_REQUESTS_PER_STREAM', 100, { min: 1, max: 1_000_000 }),
    streamIdleTimeoutMs: read.integer('STREAM_IDLE_TIMEOUT_MS', 300_000, { min: 100, max: 86_400_000 }),
    http2StreamResetBurst: read.integer('HTTP2_STREAM_RESET_BURST', 10_000, { min: 1, max: 1_000_000 }),
    http2StreamResetRate: read.integer('HTTP2_STREAM_RESET_RATE', 1000, { min: 1, max: 1_000_000 }),
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 20_000, { min: 0, max: 600_000 }),
    readyRequiresReachable: read.boolean('READY_REQUIRES_REACHABLE', false),
    reachableWindowMs: read.integer('READY_REACHABLE_WINDOW_MS', 60_000, { min: 1000, max: 3_600_000 }),
    grpcKeepaliveMs: read.integer('GRPC_KEEPALIVE_MS', 60_000, { min: 10_000, max: 3_600_000 }),

    upstreamPlaintext: read.boolean('UPSTREAM_PLAINTEXT', false),
    upstreamInsecure: read.boolean('UPSTREAM_INSECURE', false),
    upstreamCaFile: read.optionalString('UPSTREAM_CA_FILE'),
    upstreamServerName: read.string(
      'UPSTREAM_SERVER_NAME',
      istioRevision && istioRevision !== 'default' ? `istiod-${istioRevision}.${istioNamespace}.svc` : `istiod.${istioNamespace}.svc`,
    ),
    upstreamKeepaliveMs: read.integer('UPSTREAM_KEEPALIVE_MS', 30_000, { min: MIN_UPSTREAM_KEEPALIVE_MS, max: 3_600_000 }),

    authMode: read.choice('AUTH_MODE', 'tokenreview', ['tokenreview', 'jwks', 'none'] as const),
    jwtAudiences: read.list('JWT_AUDIENCES').length ? read.list('JWT_AUDIENCES') : ['istio-ca'],
    jwtIssuer: read.optionalString('JWT_ISSUER'),
    jwtJwksUri: read.optionalString('JWT_JWKS_URI'),
    jwtJwksFile: read.optionalString('JWT_JWKS_FILE'),
    authKubeconfig: read.optionalString('AUTH_KUBECONFIG'),
    authClusterId: parseClusterId(read.optionalString('AUTH_CLUSTER_ID')),
    authClusters: parseAuthClusters(read.optionalString('AUTH_CLUSTERS')),
    authClustersFromRemoteSecrets: read.boolean('AUTH_CLUSTERS_FROM_REMOTE_SECRETS', false),
    authMaxClusters: read.integer('AUTH_MAX_CLUSTERS', 100, { min: 1, max: 10_000 }),
    authAllowedNamespaces: read.list('AUTH_ALLOWED_NAMESPACES'),
    authAllowedSubjects: read.list('AUTH_ALLOWED_SUBJECTS'),
    tokenCacheSize: read.integer('TOKEN_CACHE_SIZE', 10_000, { min: 1, max: 1_000_000 }),
    jwtCacheMs: read.integer('JWT_CACHE_MS', 60_000, { min: 0, max: 3_600_000 }),
    tokenReviewTimeoutMs: read.integer('TOKENREVIEW_TIMEOUT_MS', 5_000, { min: 1, max: 300_000 }),
    tokenRejectCacheMs: read.integer('TOKEN_REJECT_CACHE_MS', 10_000, { min: 0, max: 3_600_000 }),
    tokenRejectCacheSize: read.integer('TOKEN_REJECT_CACHE_SIZE', 10_000, { min: 1, max: 1_000_000 }),

    logLevel: read.choice('LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const),
    tracing: readTracingSettings(read),
  };
  validateCombinations(config);
  return config;
}

function validateCombinations(config: AppConfig): void {
  // TLS files are checked (and, when absent, replaced by a self-signed certificate) by the
  // serving-credentials module at start, which also reloads them.
  if (config.maxRequestBytes > config.maxMessageBytes) {
    throw new ConfigError(
      'MAX_REQUEST_BYTES',
      `=${config.maxRequestBytes} is above MAX_MESSAGE_BYTES=${config.maxMessageBytes}, the most the istiod channels may send`,
    );
  }
  if (config.discovery === 'static' && config.staticInstances.length === 0) {
    throw new ConfigError('ISTIOD_ADDRESSES', 'must list at least one name=host:port when DISCOVERY=static');
  }
  if (config.authMode === 'jwks' && !config.jwtJwksUri && !config.jwtJwksFile && !config.jwtIssuer) {
    throw new ConfigError('JWT_JWKS_URI', 'or JWT_ISSUER (OIDC discovery) or JWT_JWKS_FILE must be set when AUTH_MODE=jwks');
  }
  validateAuthClusters(config);
  if (config.upstreamMode === 'port-forward' && config.discovery !== 'kubernetes') {
    throw new ConfigError('UPSTREAM_MODE', '=port-forward needs DISCOVERY=kubernetes');
  }
  if (config.upstreamPlaintext && config.upstreamCaFile) {
    throw new ConfigError('UPSTREAM_CA_FILE', 'cannot be combined with UPSTREAM_PLAINTEXT=true');
  }
  // With DISCOVERY=kubernetes the root comes from istiod's ConfigMap, checked when the watch starts.
  if (!config.upstreamPlaintext && !config.upstreamInsecure && !config.upstreamCaFile && config.discovery === 'static') {
    throw new ConfigError(
      'UPSTREAM_CA_FILE',
      'must be set to verify istiod (or set UPSTREAM_INSECURE=true to skip verification, or UPSTREAM_PLAINTEXT=true for port 15010)',
    );
  }
}

function validateAuthClusters(config: AppConfig): void {
  const multicluster: [string, boolean][] = [
    ['AUTH_CLUSTERS', config.authClusters.length > 0],
    ['AUTH_CLUSTER_ID', config.authClusterId !== undefined],
    ['AUTH_CLUSTERS_FROM_REMOTE_SECRETS', config.authClustersFromRemoteSecrets],
  ];
  for (const [variable, set] of multicluster) {
    if (set && config.authMode !== 'tokenreview') {
      throw new ConfigError(variable, `needs AUTH_MODE=tokenreview (clusters review their own tokens), not ${config.authMode}`);
    }
  }
  if (config.authClusters.length > 0 && config.authKubeconfig) {
    throw new ConfigError('AUTH_KUBECONFIG', 'cannot be combined with AUTH_CLUSTERS: list that cluster in AUTH_CLUSTERS instead');
  }
  if (config.authClusters.length > 0 && config.authClusterId !== undefined) {
    throw new ConfigError('AUTH_CLUSTER_ID', 'cannot be combined with AUTH_CLUSTERS, whose entries name their cluster IDs');
  }
  if (config.authClusters.length > config.authMaxClusters) {
    throw new ConfigError(
      'AUTH_CLUSTERS',
      `lists ${config.authClusters.length} clusters, more than AUTH_MAX_CLUSTERS=${config.authMaxClusters}`,
    );
  }
  if (config.authClustersFromRemoteSecrets && config.discovery !== 'kubernetes') {
    throw new ConfigError(
      'AUTH_CLUSTERS_FROM_REMOTE_SECRETS',
      '=true needs DISCOVERY=kubernetes: the remote secrets are read from ISTIO_NAMESPACE of the discovery cluster',
    );
  }
}

function parseClusterId(raw: string | undefined): string | undefined {
  if (raw !== undefined && !CLUSTER_ID.test(raw)) {
    throw new ConfigError('AUTH_CLUSTER_ID', `=${raw} is not a cluster ID (letters, digits, '-', '_', '.')`);
  }
  return raw;
}

/** `clusterID=/path/to/kubeconfig,...`: the clusters whose tokens are reviewed, each by its own API server. */
export function parseAuthClusters(raw: string | undefined): AuthClusterSpec[] {
  return parseEntries(raw, 'AUTH_CLUSTERS', 'cluster', (entry, eq) => {
    const clusterId = entry.slice(0, Math.max(eq, 0)).trim();
    const kubeconfigPath = entry.slice(eq + 1).trim();
    if (eq < 0 || !kubeconfigPath) throw new ConfigError('AUTH_CLUSTERS', `entry "${entry}" is not clusterID=kubeconfig-path`);
    if (!CLUSTER_ID.test(clusterId)) {
      throw new ConfigError('AUTH_CLUSTERS', `entry "${entry}" has no valid cluster ID (letters, digits, '-', '_', '.')`);
    }
    return [clusterId, { clusterId, kubeconfigPath }];
  });
}

/** `name=host:port,...`; `host:port` alone takes the address as its name; `name@rev=host:port` sets a revision. */
export function parseStaticInstances(raw: string | undefined, defaultPort: number): StaticInstanceSpec[] {
  return parseEntries(raw, 'ISTIOD_ADDRESSES', 'name', (entry, eq) => {
    const label = eq >= 0 ? entry.slice(0, eq).trim() : '';
    const target = (eq >= 0 ? entry.slice(eq + 1) : entry).trim();
    const [name, revision = 'default'] = (label || target).split('@');
    const { address, port } = parseHostPort(target, defaultPort, entry);
    if (!name) throw new ConfigError('ISTIOD_ADDRESSES', `entry "${entry}" has an empty name`);
    return [name, { name, address, port, revision }];
  });
}

/**
 * A comma-separated list (entries trimmed, empty ones skipped) in which no entry's name may stand
 * twice. `parse` gets each entry and the index of its first '=' (-1: none) and returns its name and value.
 */
function parseEntries<T>(
  raw: string | undefined,
  variable: string,
  nameNoun: string,
  parse: (entry: string, eq: number) => [name: string, value: T],
): T[] {
  if (!raw) return [];
  const seen = new Set<string>();
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const [name, value] = parse(entry, entry.indexOf('='));
      if (seen.has(name)) throw new ConfigError(variable, `lists the ${nameNoun} "${name}" twice`);
      seen.add(name);
      return value;
    });
}

function parseHostPort(target: string, defaultPort: number, entry: string): { address: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:\s]+)(?::(\d+))?$/.exec(target);
  if (!match) throw new ConfigError('ISTIOD_ADDRESSES', `entry "${entry}" is not name=host:port`);
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (port < 1 || port > 65535) throw new ConfigError('ISTIOD_ADDRESSES', `entry "${entry}" has an invalid port`);
  return { address: match[1].replace(/^\[|\]$/g, ''), port };
}
