import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../src/bootstrap.js';
import { loadConfig } from '../src/config/load-config.js';
import { createCertificateAuthority } from '../src/modules/tls/pki.js';
import { decodeClientConfigs } from '../tools/cli/xds-decoders.js';
import { IstiodClientPool } from '../src/modules/aggregation/istiod.client.js';
import { MetricsService } from '../src/modules/metrics/metrics.service.js';
import { FakeKubeApi } from './kit/fake-kube-api.js';
import { istiodPod } from './kit/istiod-pod.js';
import { ISTIOD_SERVER_NAME, KUBE_NS, startKubeMesh, type KubeMesh } from './kit/kube-mesh.js';
import { freePort } from './kit/free-port.js';
import { eventually } from './kit/wait-for.js';

const SYNCZ = 'istio.io/debug/syncz';

describe('DISCOVERY=kubernetes against a test Kubernetes API (real client-node informer)', () => {
  let mesh: KubeMesh;

  /** The proxies of every istiod the proxy asked; [] when it has no instance at all (UNAVAILABLE). */
  async function askedPods(): Promise<string[]> {
    const answer = await mesh.client.request(SYNCZ, [], { timeoutMs: 10_000 }).catch((err: { details?: string }) => {
      if (err.details?.startsWith('no istiod instances discovered in namespace istio-system (selector app=istiod)')) return undefined;
      throw err;
    });
    if (!answer) return [];
    return decodeClientConfigs(answer.response)
      .map((c) => c.node?.id ?? '')
      .sort();
  }

  beforeAll(async () => {
    // Each istiod "pod" is a simulator on its own loopback IP; all share ISTIOD_PORT, as pods do.
    mesh = await startKubeMesh({ podIps: ['127.0.0.2', '127.0.0.3', '127.0.0.4'], initialPods: 2, env: { AUTH_MODE: 'none' } });
  });
  afterAll(async () => mesh?.stop());

  it('asks the ready pods found by the informer, trusting the root from istio-ca-root-cert', async () => {
    expect(await eventually(askedPods, (ids) => ids.length === 2)).toEqual([mesh.proxyIdOn(0), mesh.proxyIdOn(1)]);
  });

  it('a pod added to the cluster is asked on the next request', async () => {
    mesh.kube.upsertPod(istiodPod({ name: mesh.podName(2), ip: mesh.podIps[2] }));
    expect(await eventually(askedPods, (ids) => ids.length === 3)).toEqual([mesh.proxyIdOn(0), mesh.proxyIdOn(1), mesh.proxyIdOn(2)]);
  });

  it('not-ready, terminating and deleted pods are not asked', async () => {
    mesh.kube.upsertPod(istiodPod({ name: mesh.podName(0), ip: mesh.podIps[0], ready: false }));
    mesh.kube.upsertPod(istiodPod({ name: mesh.podName(1), ip: mesh.podIps[1], terminating: true }));
    mesh.kube.deletePod(KUBE_NS, mesh.podName(2));
    const ids = await eventually(askedPods, (found) => found.length === 0);
    expect(ids).toEqual([]);
    const before = mesh.istiods.map((istiod) => istiod.streams.length);
    // restore for the following tests
    mesh.kube.upsertPod(istiodPod({ name: mesh.podName(0), ip: mesh.podIps[0] }));
    mesh.kube.upsertPod(istiodPod({ name: mesh.podName(1), ip: mesh.podIps[1] }));
    await eventually(askedPods, (found) => found.length === 2);
    expect(mesh.istiods[2].streams.length).toBe(before[2]); // the deleted pod is not asked any more
    expect(mesh.proxy.app.get(IstiodClientPool).channelNames()).not.toContain(mesh.podName(2)); // and its channel is closed
  }, 20_000);

  it('50 istioctl requests make no Kubernetes API call', async () => {
    const before = mesh.kube.requests.length;
    for (let i = 0; i < 50; i++) await mesh.client.request(SYNCZ);
    expect(mesh.kube.requests.length - before).toBe(0);
  });

  it('a watch failing with 500 recovers with backoff and keeps serving meanwhile', async () => {
    const watchesBefore = mesh.kube.count({ watch: true });
    mesh.kube.failNextWatches(3, 500);
    mesh.kube.dropWatches(); // the informer reconnects into the failing watches
    expect(await askedPods()).toEqual([mesh.proxyIdOn(0), mesh.proxyIdOn(1)]); // last known set keeps serving
    mesh.kube.upsertPod(istiodPod({ name: mesh.podName(2), ip: mesh.podIps[2] }));
    expect(await eventually(askedPods, (ids) => ids.length === 3)).toHaveLength(3);
    // the pods and CA ConfigMap watches share the three failures, then both reconnect
    expect(mesh.kube.count({ watch: true }) - watchesBefore).toBeGreaterThanOrEqual(4);
    const restarts = (await mesh.proxy.app.get(MetricsService).watchRestarts.get()).values[0]?.value ?? 0;
    expect(restarts).toBeGreaterThan(0);
    const instances = (await mesh.proxy.app.get(MetricsService).instances.get()).values;
    expect(instances.find((v) => v.labels.state === 'ready')?.value).toBe(3);
  });

  it('while the API is unreachable the last known set keeps serving, then changes flow again', async () => {
    mesh.kube.failNextWatches(2, 503);
    mesh.kube.failNextLists(2, 503);
    mesh.kube.dropWatches();
    expect(await askedPods()).toHaveLength(3);
    mesh.kube.deletePod(KUBE_NS, mesh.podName(2));
    expect(await eventually(askedPods, (ids) => ids.length === 2)).toEqual([mesh.proxyIdOn(0), mesh.proxyIdOn(1)]);
  });

  it('a 410 Gone makes the informer relist', async () => {
    const lists = () => mesh.kube.requests.filter((r) => !r.watch && r.resource === 'pods').length;
    const before = lists();
    mesh.kube.nextWatchResponse = 'gone';
    mesh.kube.dropWatches();
    mesh.kube.upsertPod(istiodPod({ name: mesh.podName(2), ip: mesh.podIps[2] }));
    expect(await eventually(askedPods, (ids) => ids.length === 3)).toHaveLength(3);
    await eventually(lists, (n) => n > before);
    expect(lists()).toBeGreaterThan(before);
  });

  it('fails startup naming UPSTREAM_CA_FILE when istio-ca-root-cert is missing', async () => {
    const empty = new FakeKubeApi();
    await empty.start();
    const kubeconfig = join(mesh.dir, 'empty-kubeconfig');
    writeFileSync(kubeconfig, empty.kubeconfigYaml());
    const started = startProxy(
      loadConfig({
        PLAINTEXT: 'true',
        AUTH_MODE: 'none',
        KUBECONFIG: kubeconfig,
        GRPC_PORT: String(await freePort()),
        HTTP_PORT: String(await freePort()),
      }),
      false,
    );
    await expect(started).rejects.toThrow(
      /Invalid environment: UPSTREAM_CA_FILE is not set and ConfigMap istio-system\/istio-ca-root-cert could not be read \(not found\): set UPSTREAM_CA_FILE .* or UPSTREAM_INSECURE=true/,
    );
    await empty.stop();
  });

  it('a CA rotation in istio-ca-root-cert is used by new channels', async () => {
    const newCa = await createCertificateAuthority('rotated root');
    const rotatedServing = await newCa.issue({ commonName: 'istiod', dnsNames: [ISTIOD_SERVER_NAME] });
    // istiod 0 restarts with a certificate from the new root; the proxy does not trust it yet.
    await mesh.istiods[0].stop();
    mesh.istiods[0] = mesh.istiod(0, rotatedServing);
    await mesh.istiods[0].start();
    const untrusted = await mesh.client.request(SYNCZ);
    expect(untrusted.headers['x-istioctl-proxy-missing']).toBe(mesh.podName(0));
    // istiod publishes both roots during a rotation.
    mesh.kube.upsertConfigMap(KUBE_NS, 'istio-ca-root-cert', { 'root-cert.pem': `${mesh.ca.certPem.trim()}\n${newCa.certPem.trim()}\n` });
    expect(await eventually(askedPods, (ids) => ids.length === 3)).toEqual([mesh.proxyIdOn(0), mesh.proxyIdOn(1), mesh.proxyIdOn(2)]);
  });
});
