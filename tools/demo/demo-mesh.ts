import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority } from '../../src/modules/tls/pki.js';
import { SimulatedIstiod, type CallerIdentity } from '../sim/istiod-simulator.js';
import { EAST_CLUSTER, WEST_CLUSTER, buildDemoMesh, buildMulticlusterMesh } from '../sim/mesh-fixtures.js';
import { FakeKubeApi } from '../../test/kit/fake-kube-api.js';
import { serveTokenIssuer } from '../../test/kit/issuer-routes.js';
import { createTokenIssuer, type TokenIssuer } from '../../test/kit/test-tokens.js';

export const DEMO_ISTIOD_SERVER_NAME = 'istiod.istio-system.svc';

/** One remote cluster of the external control plane: its API server reviews its own ServiceAccount tokens. */
export interface DemoCluster {
  id: string;
  /** Base URL of its (loopback) Kubernetes API, which serves TokenReview. */
  apiUrl: string;
  kubeconfigFile: string;
  /** What istioctl obtains there with a TokenRequest: ServiceAccount default in istio-system, audience istio-ca. */
  tokenFile: string;
}

export interface DemoMesh {
  istiods: SimulatedIstiod[];
  /** Multicluster: east and west, the remote clusters whose callers the proxy serves (AUTH_CLUSTERS). Else none. */
  clusters: DemoCluster[];
  dir: string;
  caFile: string;
  /** A token of istiod's own cluster (ServiceAccount default in istio-system, audience istio-ca). */
  tokenFile: string;
  /** Public keys of istiod's own cluster's token issuer (AUTH_MODE=jwks, JWT_JWKS_FILE). */
  jwksFile: string;
  issuer: string;
  /** Proxy serving certificate and key files (self-signed by the demo CA; nothing is committed). */
  servingCertFile: string;
  servingKeyFile: string;
  stop(): Promise<void>;
}

/**
 * The proxy's environment in front of a demo mesh on 127.0.0.1: static discovery of its istiods over
 * TLS, each caller's token reviewed by the cluster that issued it (multicluster meshes).
 */
export function demoProxyEnv(
  mesh: DemoMesh,
  { grpcPort, httpPort, logLevel }: { grpcPort: string; httpPort: string; logLevel: string },
): Record<string, string> {
  return {
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: grpcPort,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: httpPort,
    TLS_CERT_FILE: mesh.servingCertFile,
    TLS_KEY_FILE: mesh.servingKeyFile,
    DISCOVERY: 'static',
    ISTIOD_ADDRESSES: mesh.istiods.map((istiod) => `${istiod.podName}=${istiod.address}`).join(','),
    UPSTREAM_CA_FILE: mesh.caFile,
    UPSTREAM_SERVER_NAME: DEMO_ISTIOD_SERVER_NAME,
    // Each caller's token is reviewed by the cluster that issued it, and istiod is told which one.
    AUTH_MODE: 'tokenreview',
    AUTH_CLUSTERS: mesh.clusters.map((cluster) => `${cluster.id}=${cluster.kubeconfigFile}`).join(','),
    LOG_LEVEL: logLevel,
  };
}

/**
 * Three simulated istiods on loopback, as an external control plane would run them: TLS from a
 * throwaway CA, tokens checked like istiod does, each replica holding its own sidecars (the demo
 * mesh of mesh-fixtures.ts). `multicluster`: the replicas serve two remote clusters, east and west,
 * each replica holding sidecars of both, and each cluster's tokens reviewed by that cluster's own
 * (test) Kubernetes API, for istiod and for the proxy (AUTH_CLUSTERS).
 */
export async function startDemoMesh({ multicluster = false }: { multicluster?: boolean } = {}): Promise<DemoMesh> {
  const dir = mkdtempSync(join(tmpdir(), 'istioctl-proxy-demo-'));
  const apis: FakeKubeApi[] = [];
  const istiods: SimulatedIstiod[] = [];
  const stop = async () => {
    await Promise.all([...istiods.map((istiod) => istiod.stop()), ...apis.map((api) => api.stop())]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const file = (name: string, content: string) => {
      const path = join(dir, name);
      writeFileSync(path, content, { mode: 0o600 });
      return path;
    };
    const ca = await createCertificateAuthority('istioctl-proxy demo root');
    const istiodCert = await ca.issue({ commonName: 'istiod', dnsNames: [DEMO_ISTIOD_SERVER_NAME] });
    const proxyCert = await ca.issue({ commonName: 'istioctl-proxy', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    // istiod's own (config) cluster: its tokens are reviewed when a stream names no remote cluster.
    const own = await createTokenIssuer();
    const reviewers: Record<string, (token: string) => Promise<CallerIdentity>> = {};
    const clusters: DemoCluster[] = [];
    for (const id of multicluster ? [EAST_CLUSTER, WEST_CLUSTER] : []) {
      const tokens = await createTokenIssuer({ issuer: `https://kubernetes.${id}.example` });
      const api = new FakeKubeApi();
      apis.push(api);
      await api.start();
      serveTokenIssuer(api, tokens);
      reviewers[id] = (token) => tokens.verify(token);
      clusters.push({
        id,
        apiUrl: api.url,
        kubeconfigFile: file(`${id}.kubeconfig`, api.kubeconfigYaml()),
        tokenFile: file(`istioctl-token-${id}`, await istioctlToken(tokens)),
      });
    }
    for (const spec of multicluster ? buildMulticlusterMesh() : buildDemoMesh()) {
      const remote = multicluster ? { clusters: reviewers } : {};
      istiods.push(new SimulatedIstiod({ ...spec, ...remote, tls: istiodCert, verifyToken: async (token) => own.verify(token) }));
    }
    await Promise.all(istiods.map((istiod) => istiod.start()));
    return {
      istiods,
      clusters,
      dir,
      caFile: file('root-cert.pem', ca.certPem),
      tokenFile: file('istioctl-token', await istioctlToken(own)),
      jwksFile: file('jwks.json', JSON.stringify(own.jwks)),
      issuer: own.issuer,
      servingCertFile: file('proxy-cert.pem', proxyCert.certPem),
      servingKeyFile: file('proxy-key.pem', proxyCert.keyPem),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function istioctlToken(tokens: TokenIssuer): Promise<string> {
  return tokens.mint({ namespace: 'istio-system', serviceAccount: 'default', expiresInSeconds: 24 * 3600 });
}
