import { describe, expect, it } from 'vitest';
import { loadConfig, parseAuthClusters, parseStaticInstances } from './load-config.js';

const base = { PLAINTEXT: 'true', DISCOVERY: 'static', ISTIOD_ADDRESSES: 'istiod-a=10.0.0.1:15012', UPSTREAM_INSECURE: 'true' };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const sut = loadConfig(base);
    expect(sut).toMatchObject({
      grpcPort: 9090,
      httpPort: 8080,
      maxMessageBytes: 256 * 1024 * 1024,
      maxRequestBytes: 1024 * 1024,
      maxRequestsPerStream: 100,
      streamIdleTimeoutMs: 300_000,
      http2StreamResetBurst: 10_000,
      http2StreamResetRate: 1000,
      shutdownTimeoutMs: 20_000,
      fanoutTimeoutMs: 10_000,
      partialResults: 'allow',
      controlPlaneId: '<external>',
      istioNamespace: 'istio-system',
      istiodSelector: 'app=istiod',
      istiodPort: 15012,
      upstreamServerName: 'istiod.istio-system.svc',
      upstreamKeepaliveMs: 30_000,
      responseCacheMaxBytes: 64 * 1024 * 1024,
      answerBufferPoolBytes: 64 * 1024 * 1024,
      maxInflightAnswerBytes: 512 * 1024 * 1024,
      answerBudgetWaitMs: 30_000,
      answerBudgetMaxWaiting: 1000,
    });
  });

  it.each([
    [{ GRPC_PORT: 'abc' }, 'Invalid environment: GRPC_PORT=abc is not a port'],
    [{ GRPC_PORT: '70000' }, 'GRPC_PORT=70000 is out of range'],
    [{ PARTIAL_RESULTS: 'maybe' }, 'PARTIAL_RESULTS=maybe is not one of: allow, deny'],
    [{ PLAINTEXT: 'yes please' }, 'PLAINTEXT=yes please is not a boolean'],
    [{ FANOUT_TIMEOUT_MS: '-5' }, 'FANOUT_TIMEOUT_MS=-5 is not a whole number'],
    [{ MAX_MESSAGE_BYTES: '1000' }, 'MAX_MESSAGE_BYTES=1000 is out of range'],
    [{ MAX_INFLIGHT_ANSWER_BYTES: '1000' }, 'MAX_INFLIGHT_ANSWER_BYTES=1000 is out of range'],
    [{ RESPONSE_CACHE_MAX_BYTES: '64Mi' }, 'RESPONSE_CACHE_MAX_BYTES=64Mi is not a whole number'],
    [{ ANSWER_BUDGET_WAIT_MS: '700000' }, 'ANSWER_BUDGET_WAIT_MS=700000 is out of range (0..600000)'],
    [{ MAX_REQUEST_BYTES: '1000' }, 'MAX_REQUEST_BYTES=1000 is out of range'],
    [
      { MAX_REQUEST_BYTES: String(8 * 1024 * 1024), MAX_MESSAGE_BYTES: String(4 * 1024 * 1024) },
      'MAX_REQUEST_BYTES=8388608 is above MAX_MESSAGE_BYTES',
    ],
    [{ MAX_REQUESTS_PER_STREAM: '0' }, 'MAX_REQUESTS_PER_STREAM=0 is out of range'],
    [{ STREAM_IDLE_TIMEOUT_MS: '10' }, 'STREAM_IDLE_TIMEOUT_MS=10 is out of range'],
    [{ HTTP2_STREAM_RESET_RATE: '0' }, 'HTTP2_STREAM_RESET_RATE=0 is out of range'],
    [{ UPSTREAM_KEEPALIVE_MS: '5000' }, 'UPSTREAM_KEEPALIVE_MS=5000 is out of range (15000..3600000)'],
    [{ DISCOVERY: 'consul' }, 'DISCOVERY=consul is not one of: kubernetes, static'],
    [{ ISTIOD_ADDRESSES: 'a=host:notaport' }, 'ISTIOD_ADDRESSES entry "a=host:notaport" is not name=host:port'],
    [{ ISTIOD_ADDRESSES: 'a=h:1,a=h:2' }, 'ISTIOD_ADDRESSES lists the name "a" twice'],
    [{ ISTIOD_ADDRESSES: '' }, 'ISTIOD_ADDRESSES must list at least one name=host:port'],
    [{ AUTH_MODE: 'jwks' }, 'JWT_JWKS_URI or JWT_ISSUER (OIDC discovery) or JWT_JWKS_FILE must be set when AUTH_MODE=jwks'],
    [{ UPSTREAM_MODE: 'port-forward' }, 'UPSTREAM_MODE=port-forward needs DISCOVERY=kubernetes'],
    [{ UPSTREAM_INSECURE: '' }, 'UPSTREAM_CA_FILE must be set to verify istiod'],
    [{ AUTH_CLUSTERS: 'east' }, 'AUTH_CLUSTERS entry "east" is not clusterID=kubeconfig-path'],
    [{ AUTH_CLUSTERS: 'east=' }, 'AUTH_CLUSTERS entry "east=" is not clusterID=kubeconfig-path'],
    [{ AUTH_CLUSTERS: '=/kc' }, 'AUTH_CLUSTERS entry "=/kc" has no valid cluster ID'],
    [{ AUTH_CLUSTERS: 'we st=/kc' }, 'AUTH_CLUSTERS entry "we st=/kc" has no valid cluster ID'],
    [{ AUTH_CLUSTERS: 'east=/a,east=/b' }, 'AUTH_CLUSTERS lists the cluster "east" twice'],
    [{ AUTH_CLUSTERS: 'a=/a,b=/b,c=/c', AUTH_MAX_CLUSTERS: '2' }, 'AUTH_CLUSTERS lists 3 clusters, more than AUTH_MAX_CLUSTERS=2'],
    [{ AUTH_CLUSTERS: 'east=/a', AUTH_KUBECONFIG: '/b' }, 'AUTH_KUBECONFIG cannot be combined with AUTH_CLUSTERS'],
    [{ AUTH_CLUSTERS: 'east=/a', AUTH_CLUSTER_ID: 'east' }, 'AUTH_CLUSTER_ID cannot be combined with AUTH_CLUSTERS'],
    [{ AUTH_CLUSTER_ID: 'a/b' }, "AUTH_CLUSTER_ID=a/b is not a cluster ID (letters, digits, '-', '_', '.')"],
    [{ AUTH_MAX_CLUSTERS: '0' }, 'AUTH_MAX_CLUSTERS=0 is out of range (1..10000)'],
    [
      { AUTH_MODE: 'none', AUTH_CLUSTERS: 'east=/a' },
      'AUTH_CLUSTERS needs AUTH_MODE=tokenreview (clusters review their own tokens), not none',
    ],
    [{ AUTH_MODE: 'none', AUTH_CLUSTER_ID: 'east' }, 'AUTH_CLUSTER_ID needs AUTH_MODE=tokenreview'],
    [
      { AUTH_CLUSTERS_FROM_REMOTE_SECRETS: 'true' },
      'AUTH_CLUSTERS_FROM_REMOTE_SECRETS=true needs DISCOVERY=kubernetes: the remote secrets are read from ISTIO_NAMESPACE',
    ],
    [{ AUTH_CLUSTERS_FROM_REMOTE_SECRETS: 'maybe' }, 'AUTH_CLUSTERS_FROM_REMOTE_SECRETS=maybe is not a boolean'],
  ])('rejects %o naming the variable', (override, message) => {
    expect(() => loadConfig({ ...base, ...override })).toThrow(message);
  });

  it('derives the revisioned istiod server name', () => {
    expect(loadConfig({ ...base, ISTIO_REVISION: 'canary', POD_NAMESPACE: 'external-istiod' }).upstreamServerName).toBe(
      'istiod-canary.external-istiod.svc',
    );
  });
});

describe('multicluster authentication settings', () => {
  it('defaults to the single AUTH_KUBECONFIG cluster, asserting no cluster ID', () => {
    expect(loadConfig(base)).toMatchObject({
      authClusters: [],
      authClusterId: undefined,
      authClustersFromRemoteSecrets: false,
      authMaxClusters: 100,
    });
  });

  it('reads AUTH_CLUSTERS, AUTH_CLUSTER_ID, AUTH_CLUSTERS_FROM_REMOTE_SECRETS and AUTH_MAX_CLUSTERS', () => {
    expect(loadConfig({ ...base, AUTH_CLUSTERS: 'east=/kc/east, west=/kc/west', AUTH_MAX_CLUSTERS: '5' })).toMatchObject({
      authClusters: [
        { clusterId: 'east', kubeconfigPath: '/kc/east' },
        { clusterId: 'west', kubeconfigPath: '/kc/west' },
      ],
      authMaxClusters: 5,
    });
    expect(loadConfig({ ...base, AUTH_KUBECONFIG: '/kc/remote', AUTH_CLUSTER_ID: 'remote-1' })).toMatchObject({
      authKubeconfig: '/kc/remote',
      authClusterId: 'remote-1',
    });
    const kube = loadConfig({ DISCOVERY: 'kubernetes', AUTH_CLUSTERS_FROM_REMOTE_SECRETS: 'true', AUTH_CLUSTER_ID: 'primary' });
    expect(kube).toMatchObject({ authClustersFromRemoteSecrets: true, authClusterId: 'primary' });
  });

  it('keeps "=" inside a kubeconfig path', () => {
    expect(parseAuthClusters('a=/mnt/k=v/config')).toEqual([{ clusterId: 'a', kubeconfigPath: '/mnt/k=v/config' }]);
  });
});

describe('token verification bounds', () => {
  it('defaults TOKENREVIEW_TIMEOUT_MS, TOKEN_REJECT_CACHE_MS and TOKEN_REJECT_CACHE_SIZE, and reads them', () => {
    expect(loadConfig(base)).toMatchObject({ tokenReviewTimeoutMs: 5000, tokenRejectCacheMs: 10_000, tokenRejectCacheSize: 10_000 });
    const env = { ...base, TOKENREVIEW_TIMEOUT_MS: '750', TOKEN_REJECT_CACHE_MS: '0', TOKEN_REJECT_CACHE_SIZE: '50' };
    expect(loadConfig(env)).toMatchObject({ tokenReviewTimeoutMs: 750, tokenRejectCacheMs: 0, tokenRejectCacheSize: 50 });
  });

  it('defaults JWT_CACHE_MS to a minute, and reads it (0: no cache)', () => {
    expect(loadConfig(base)).toMatchObject({ jwtCacheMs: 60_000, tokenCacheSize: 10_000 });
    expect(loadConfig({ ...base, JWT_CACHE_MS: '0' })).toMatchObject({ jwtCacheMs: 0 });
    expect(loadConfig({ ...base, JWT_CACHE_MS: '5000' })).toMatchObject({ jwtCacheMs: 5000 });
  });

  it.each([
    [{ TOKENREVIEW_TIMEOUT_MS: '0' }, 'TOKENREVIEW_TIMEOUT_MS=0 is out of range (1..300000)'],
    [{ TOKEN_REJECT_CACHE_MS: '10s' }, 'TOKEN_REJECT_CACHE_MS=10s is not a whole number'],
    [{ TOKEN_REJECT_CACHE_SIZE: '0' }, 'TOKEN_REJECT_CACHE_SIZE=0 is out of range (1..1000000)'],
    [{ JWT_CACHE_MS: '1m' }, 'JWT_CACHE_MS=1m is not a whole number'],
    [{ JWT_CACHE_MS: '3600001' }, 'JWT_CACHE_MS=3600001 is out of range (0..3600000)'],
  ])('rejects %o naming the variable', (override, message) => {
    expect(() => loadConfig({ ...base, ...override })).toThrow(message);
  });
});

describe('parseStaticInstances', () => {
  it('parses names, revisions, IPv6 and default ports', () => {
    expect(parseStaticInstances('a=10.0.0.1:15010, b@canary=[::1]:1234,127.0.0.1', 15012)).toEqual([
      { name: 'a', address: '10.0.0.1', port: 15010, revision: 'default' },
      { name: 'b', address: '::1', port: 1234, revision: 'canary' },
      { name: '127.0.0.1', address: '127.0.0.1', port: 15012, revision: 'default' },
    ]);
  });
});
