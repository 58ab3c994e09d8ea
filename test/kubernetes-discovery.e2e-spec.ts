import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../src/bootstrap.js';
import { loadConfig } from '../src/config/load-config.js';
import { createCertificateAuthority, type CertificateAuthority } from '../src/common/test-pki.js';
import { XdsClient } from '../src/cli/xds-client.js';
import { IstiodClientPool } from '../src/modules/aggregation/istiod.client.js';
import { MetricsService } from '../src/modules/metrics/metrics.service.js';
import { decodeClientConfigs } from '../src/cli/xds-decoders.js';
import { SimulatedIstiod } from '../src/sim/istiod-simulator.js';
import { createTokenIssuer, type TokenIssuer } from '../src/sim/test-tokens.js';
import { FakeKubeApi } from './support/fake-kube-api.js';
import { istiodPod } from './support/istiod-pod.js';
import { freePort } from './support/ports.js';
import { startKubeProxy } from './support/kube-proxy.js';

const SYNCZ = 'istio.io/debug/syncz';
const NS = 'istio-system';
const SERVER_NAME = `istiod.${NS}.svc`;

/** Each istiod "pod" is a simulator on its own loopback IP; all share ISTIOD_PORT, as pods do. */
const POD_IPS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

describe('DISCOVERY=kubernetes against a test Kubernetes API (real client-node informer)', () => {
  let kube: FakeKubeApi;
  let ca: CertificateAuthority;
  let tokens: TokenIssuer;
  let istiods: SimulatedIstiod[];
  let proxy: RunningProxy;
  let client: XdsClient;
  let dir: string;
  let istiodPort: number;

  const podName = (i: number) => `istiod-5f7d9c8b4-pod${i}`;
  const proxyIdOn = (i: number) => `app-${i}-6d8f9b7c5-abcde.bookinfo`;

  /** The proxies of every istiod the proxy asked; [] when it has no instance at all (UNAVAILABLE). */
  async function askedPods(): Promise<string[]> {
    const answer = await client.request(SYNCZ, [], { timeoutMs: 10_000 }).catch((err: { details?: string }) => {
      if (err.details?.startsWith('no istiod instances discovered in namespace istio-system (selector app=istiod)')) return undefined;
      throw err;
    });
    if (!answer) return [];
    const { response } = answer;
    return decodeClientConfigs(response)
      .map((c) => c.node?.id ?? '')
      .sort();
  }

  async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 8000): Promise<T> {
    const until = Date.now() + timeoutMs;
    let last = await probe();
    while (!accept(last) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      last = await probe();
    }
    return last;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kube-discovery-'));
    kube = new FakeKubeApi();
    await kube.start();
    ca = await createCertificateAuthority();
    tokens = await createTokenIssuer();
    kube.upsertConfigMap(NS, 'istio-ca-root-cert', { 'root-cert.pem': ca.certPem });
    const serving = await ca.issue({ commonName: 'istiod', dnsNames: [SERVER_NAME] });
    istiodPort = await freePort(POD_IPS[0]);
    istiods = POD_IPS.map(
      (ip, i) =>
        new SimulatedIstiod({
          podName: podName(i),
          version: '1.27.3',
          host: ip,
          port: istiodPort,
          tls: serving,
          verifyToken: (token) => tokens.verify(token),
          proxies: [{ id: proxyIdOn(i), namespace: 'bookinfo', istioVersion: '1.27.3' }],
        }),
    );
    await Promise.all(istiods.map((istiod) => istiod.start()));
    kube.upsertPod(istiodPod({ name: podName(0), ip: POD_IPS[0] }));
    kube.upsertPod(istiodPod({ name: podName(1), ip: POD_IPS[1] }));

    let proxyAddress: string;
    ({ proxy, address: proxyAddress } = await startKubeProxy(kube, dir, { ISTIOD_PORT: String(istiodPort), AUTH_MODE: 'none' }));
    client = new XdsClient({ address: proxyAddress, plaintext: true, token: await tokens.mint({ namespace: NS, serviceAccount: 'default' }) });
  });

  afterAll(async () => {
    client?.close();
    await proxy?.close();
    await Promise.all((istiods ?? []).map((istiod) => istiod.stop()));
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks the ready pods found by the informer, trusting the root from istio-ca-root-cert', async () => {
    expect(await eventually(askedPods, (ids) => ids.length === 2)).toEqual([proxyIdOn(0), proxyIdOn(1)]);
  });

  it('a pod added to the cluster is asked on the next request', async () => {
    kube.upsertPod(istiodPod({ name: podName(2), ip: POD_IPS[2] }));
    expect(await eventually(askedPods, (ids) => ids.length === 3)).toEqual([proxyIdOn(0), proxyIdOn(1), proxyIdOn(2)]);
  });

  it('not-ready, terminating and deleted pods are not asked', async () => {
    kube.upsertPod(istiodPod({ name: podName(0), ip: POD_IPS[0], ready: false }));
    kube.upsertPod(istiodPod({ name: podName(1), ip: POD_IPS[1], terminating: true }));
    kube.deletePod(NS, podName(2));
    const ids = await eventually(askedPods, (found) => found.length === 0);
    expect(ids).toEqual([]);
    const before = istiods.map((istiod) => istiod.streams.length);
    // restore for the following tests
    kube.upsertPod(istiodPod({ name: podName(0), ip: POD_IPS[0] }));
    kube.upsertPod(istiodPod({ name: podName(1), ip: POD_IPS[1] }));
    await eventually(askedPods, (found) => found.length === 2);
    expect(istiods[2].streams.length).toBe(before[2]); // the deleted pod is not asked any more
    expect(proxy.app.get(IstiodClientPool).channelNames()).not.toContain(podName(2)); // and its channel is closed
  }, 20_000);

  it('50 istioctl requests make no Kubernetes API call', async () => {
    const before = kube.requests.length;
    for (let i = 0; i < 50; i++) await client.request(SYNCZ);
    expect(kube.requests.length - before).toBe(0);
  });

  it('a watch failing with 500 recovers with backoff and keeps serving meanwhile', async () => {
    const watchesBefore = kube.count({ watch: true });
    kube.failNextWatches(3, 500);
    kube.dropWatches(); // the informer reconnects into the failing watches
    expect(await askedPods()).toEqual([proxyIdOn(0), proxyIdOn(1)]); // last known set keeps serving
    kube.upsertPod(istiodPod({ name: podName(2), ip: POD_IPS[2] }));
    expect(await eventually(askedPods, (ids) => ids.length === 3)).toHaveLength(3);
    // the pods and CA ConfigMap watches share the three failures, then both reconnect
    expect(kube.count({ watch: true }) - watchesBefore).toBeGreaterThanOrEqual(4);
    const restarts = (await proxy.app.get(MetricsService).watchRestarts.get()).values[0]?.value ?? 0;
    expect(restarts).toBeGreaterThan(0);
    const instances = (await proxy.app.get(MetricsService).instances.get()).values;
    expect(instances.find((v) => v.labels.state === 'ready')?.value).toBe(3);
  });

  it('while the API is unreachable the last known set keeps serving, then changes flow again', async () => {
    kube.failNextWatches(2, 503);
    kube.failNextLists(2, 503);
    kube.dropWatches();
    expect(await askedPods()).toHaveLength(3);
    kube.deletePod(NS, podName(2));
    expect(await eventually(askedPods, (ids) => ids.length === 2)).toEqual([proxyIdOn(0), proxyIdOn(1)]);
  });

  it('a 410 Gone makes the informer relist', async () => {
    const lists = () => kube.requests.filter((r) => !r.watch && r.resource === 'pods').length;
    const before = lists();
    kube.nextWatchResponse = 'gone';
    kube.dropWatches();
    kube.upsertPod(istiodPod({ name: podName(2), ip: POD_IPS[2] }));
    expect(await eventually(askedPods, (ids) => ids.length === 3)).toHaveLength(3);
    await eventually(async () => lists(), (n) => n > before);
    expect(lists()).toBeGreaterThan(before);
  });

  it('fails startup naming UPSTREAM_CA_FILE when istio-ca-root-cert is missing', async () => {
    const empty = new FakeKubeApi();
    await empty.start();
    const kubeconfig = join(dir, 'empty-kubeconfig');
    writeFileSync(kubeconfig, empty.kubeconfigYaml());
    const started = startProxy(
      loadConfig({ PLAINTEXT: 'true', AUTH_MODE: 'none', KUBECONFIG: kubeconfig, GRPC_PORT: String(await freePort()), HTTP_PORT: String(await freePort()) }),
      false,
    );
    await expect(started).rejects.toThrow(
      /Invalid environment: UPSTREAM_CA_FILE is not set and ConfigMap istio-system\/istio-ca-root-cert could not be read \(not found\): set UPSTREAM_CA_FILE .* or UPSTREAM_INSECURE=true/,
    );
    await empty.stop();
  });

  it('a CA rotation in istio-ca-root-cert is used by new channels', async () => {
    const newCa = await createCertificateAuthority('rotated root');
    const rotatedServing = await newCa.issue({ commonName: 'istiod', dnsNames: [SERVER_NAME] });
    // istiod 0 restarts with a certificate from the new root; the proxy does not trust it yet.
    await istiods[0].stop();
    istiods[0] = new SimulatedIstiod({
      podName: podName(0),
      version: '1.27.3',
      host: POD_IPS[0],
      port: istiodPort,
      tls: rotatedServing,
      verifyToken: (token) => tokens.verify(token),
      proxies: [{ id: proxyIdOn(0), namespace: 'bookinfo', istioVersion: '1.27.3' }],
    });
    await istiods[0].start();
    const untrusted = await client.request(SYNCZ);
    expect(untrusted.headers['x-istioctl-proxy-missing']).toBe(podName(0));
    // istiod publishes both roots during a rotation.
    kube.upsertConfigMap(NS, 'istio-ca-root-cert', { 'root-cert.pem': `${ca.certPem.trim()}\n${newCa.certPem.trim()}\n` });
    expect(await eventually(askedPods, (ids) => ids.length === 3)).toEqual([proxyIdOn(0), proxyIdOn(1), proxyIdOn(2)]);
  });
});
