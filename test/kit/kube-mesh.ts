import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningProxy } from '../../src/bootstrap.js';
import { XdsClient } from '../../tools/cli/xds-client.js';
import { createCertificateAuthority, type CertificateAuthority, type PemPair } from '../../src/modules/tls/pki.js';
import { SimulatedIstiod } from '../../tools/sim/istiod-simulator.js';
import { createTokenIssuer, type TokenIssuer } from './test-tokens.js';
import { FakeKubeApi } from './fake-kube-api.js';
import { serveTokenIssuer } from './issuer-routes.js';
import { istiodPod } from './istiod-pod.js';
import { startKubeProxy } from './kube-proxy.js';
import { freePort } from './free-port.js';

export const KUBE_NS = 'istio-system';
export const ISTIOD_SERVER_NAME = `istiod.${KUBE_NS}.svc`;

export interface KubeMesh {
  dir: string;
  kube: FakeKubeApi;
  ca: CertificateAuthority;
  tokens: TokenIssuer;
  istiods: SimulatedIstiod[];
  /** Each istiod "pod" listens on its own loopback IP; all share this port, as pods share ISTIOD_PORT. */
  istiodPort: number;
  podIps: string[];
  proxy: RunningProxy;
  /** An istioctl-like client on the proxy, with a valid token of istio-system/default. */
  client: XdsClient;
  podName(i: number): string;
  /** The one sidecar istiod i holds. */
  proxyIdOn(i: number): string;
  /** A simulated istiod for pod i (e.g. to restart it with another certificate). */
  istiod(i: number, tls: PemPair): SimulatedIstiod;
  /** Closes the client and the proxy (idempotent; stop() calls it too). */
  closeProxy(): Promise<void>;
  stop(): Promise<void>;
}

export interface KubeMeshOptions {
  podIps: string[];
  /** How many of the pods are created (ready) before the proxy starts. */
  initialPods: number;
  /** Extra proxy environment (UPSTREAM_MODE, AUTH_MODE...). */
  env: Record<string, string>;
}

/**
 * A cluster on loopback: the test Kubernetes API (istiod pods, the istio-ca-root-cert ConfigMap,
 * TokenReview/OIDC), one simulated TLS istiod per pod IP, and the real proxy with DISCOVERY=kubernetes.
 */
export async function startKubeMesh(options: KubeMeshOptions): Promise<KubeMesh> {
  const dir = mkdtempSync(join(tmpdir(), 'kube-mesh-'));
  const kube = new FakeKubeApi();
  await kube.start();
  const ca = await createCertificateAuthority();
  const tokens = await createTokenIssuer();
  serveTokenIssuer(kube, tokens);
  kube.upsertConfigMap(KUBE_NS, 'istio-ca-root-cert', { 'root-cert.pem': ca.certPem });
  const serving = await ca.issue({ commonName: 'istiod', dnsNames: [ISTIOD_SERVER_NAME] });
  const istiodPort = await freePort(options.podIps[0]);
  const podName = (i: number) => `istiod-5f7d9c8b4-pod${i}`;
  const proxyIdOn = (i: number) => `app-${i}-6d8f9b7c5-abcde.bookinfo`;
  const istiod = (i: number, tls: PemPair) =>
    new SimulatedIstiod({
      podName: podName(i),
      version: '1.27.3',
      host: options.podIps[i],
      port: istiodPort,
      tls,
      verifyToken: (token) => tokens.verify(token),
      proxies: [{ id: proxyIdOn(i), namespace: 'bookinfo', istioVersion: '1.27.3' }],
    });
  const istiods = options.podIps.map((_, i) => istiod(i, serving));
  await Promise.all(istiods.map((sim) => sim.start()));
  for (let i = 0; i < options.initialPods; i++) kube.upsertPod(istiodPod({ name: podName(i), ip: options.podIps[i] }));
  const { proxy, address } = await startKubeProxy(kube, dir, { ISTIOD_PORT: String(istiodPort), ...options.env });
  const client = new XdsClient({ address, plaintext: true, token: await tokens.mint({ namespace: KUBE_NS, serviceAccount: 'default' }) });
  let proxyClosed: Promise<void> | undefined;
  const closeProxy = () => {
    proxyClosed ??= (async () => {
      client.close();
      await proxy.close();
    })();
    return proxyClosed;
  };
  return {
    dir,
    kube,
    ca,
    tokens,
    istiods,
    istiodPort,
    podIps: options.podIps,
    proxy,
    client,
    podName,
    proxyIdOn,
    istiod,
    closeProxy,
    async stop() {
      await closeProxy();
      await Promise.all(istiods.map((sim) => sim.stop()));
      await kube.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
