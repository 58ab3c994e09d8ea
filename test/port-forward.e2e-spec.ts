import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProxy } from '../src/bootstrap.js';
import { createCertificateAuthority } from '../src/common/test-pki.js';
import { XdsClient } from '../src/cli/xds-client.js';
import { decodeClientConfigs } from '../src/cli/xds-decoders.js';
import { DiscoveryService } from '../src/modules/discovery/discovery.service.js';
import { SimulatedIstiod } from '../src/sim/istiod-simulator.js';
import { createTokenIssuer } from '../src/sim/test-tokens.js';
import { FakeKubeApi } from './support/fake-kube-api.js';
import { serveTokenIssuer } from './support/issuer-routes.js';
import { istiodPod } from './support/istiod-pod.js';
import { freePort } from './support/ports.js';
import { startKubeProxy } from './support/kube-proxy.js';

const SYNCZ = 'istio.io/debug/syncz';
const NS = 'istio-system';
const SERVER_NAME = `istiod.${NS}.svc`;

/** Each istiod "pod" is a simulator on its own loopback IP; both share ISTIOD_PORT, as pods do. */
const POD_IPS = ['127.0.0.2', '127.0.0.3'];

/** Whether something accepts TCP connections on 127.0.0.1:port. */
async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function eventually<T>(probe: () => Promise<T> | T, accept: (value: T) => boolean, timeoutMs = 8000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = await probe();
  while (!accept(last) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await probe();
  }
  return last;
}

describe('UPSTREAM_MODE=port-forward through the pods/portforward subresource (real client-node PortForward)', () => {
  let dir: string;
  let kube: FakeKubeApi;
  let istiods: SimulatedIstiod[];
  let proxy: RunningProxy | undefined;
  let client: XdsClient;

  const podName = (i: number) => `istiod-5f7d9c8b4-pod${i}`;
  const proxyIdOn = (i: number) => `app-${i}-6d8f9b7c5-abcde.bookinfo`;
  const sessionsTo = (i: number) => kube.portForwardSessions.filter((session) => session.pod === podName(i)).length;

  /** Where the proxy dials each pod: its local tunnel end, by pod name. */
  function tunnels(): Record<string, string> {
    const discovery = proxy!.app.get(DiscoveryService);
    return Object.fromEntries(discovery.snapshot().map((instance) => [instance.name, `${instance.address}:${instance.port}`]));
  }

  /** The proxies of every istiod that answered; rejects when the request itself fails. */
  async function askedPods(): Promise<string[]> {
    const { response } = await client.request(SYNCZ, [], { timeoutMs: 10_000 });
    return decodeClientConfigs(response)
      .map((config) => config.node?.id ?? '')
      .sort();
  }

  /** askedPods() retried (failures included) until `accept`, for a bounded time. */
  async function askedPodsEventually(accept: (ids: string[]) => boolean, timeoutMs = 8000): Promise<string[]> {
    return eventually(() => askedPods().catch((err: Error) => [`request failed: ${err.message}`]), accept, timeoutMs);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'port-forward-'));
    kube = new FakeKubeApi();
    await kube.start();
    const ca = await createCertificateAuthority();
    const tokens = await createTokenIssuer();
    serveTokenIssuer(kube, tokens); // the default AUTH_MODE=tokenreview asks this API server
    kube.upsertConfigMap(NS, 'istio-ca-root-cert', { 'root-cert.pem': ca.certPem });
    const serving = await ca.issue({ commonName: 'istiod', dnsNames: [SERVER_NAME] });
    const istiodPort = await freePort(POD_IPS[0]);
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
    POD_IPS.forEach((ip, i) => kube.upsertPod(istiodPod({ name: podName(i), ip })));

    let proxyAddress: string;
    ({ proxy, address: proxyAddress } = await startKubeProxy(kube, dir, { ISTIOD_PORT: String(istiodPort), UPSTREAM_MODE: 'port-forward' }));
    client = new XdsClient({ address: proxyAddress, plaintext: true, token: await tokens.mint({ namespace: NS, serviceAccount: 'default' }) });
  });

  afterAll(async () => {
    client?.close();
    await proxy?.close();
    await Promise.all((istiods ?? []).map((istiod) => istiod.stop()));
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches both istiods through one local tunnel each, opened with the kubeconfig token', async () => {
    expect(await askedPodsEventually((ids) => ids.length === 2)).toEqual([proxyIdOn(0), proxyIdOn(1)]);

    const local = tunnels();
    expect(Object.keys(local).sort()).toEqual([podName(0), podName(1)]);
    for (const address of Object.values(local)) expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(kube.portForwardSessions.map((session) => session.pod).sort()).toEqual([podName(0), podName(1)]);
    expect(kube.portForwardSessions.every((session) => session.port === istiods[0].port)).toBe(true);
    const upgrades = kube.requests.filter((request) => request.subresource === 'portforward');
    expect(upgrades.map((request) => request.authorization)).toEqual(['Bearer fake-kube-api-token', 'Bearer fake-kube-api-token']);
  });

  it('20 requests reuse the tunnels: at most one port-forward session per pod', async () => {
    for (let i = 0; i < 20; i++) expect(await askedPods()).toEqual([proxyIdOn(0), proxyIdOn(1)]);

    expect(sessionsTo(0)).toBe(1);
    expect(sessionsTo(1)).toBe(1);
    expect(kube.activePortForwards).toBe(2);
  });

  it('after the port-forwards drop, grpc-js reconnects through a new session per pod', async () => {
    const before = [sessionsTo(0), sessionsTo(1)];
    const local = tunnels();

    kube.dropPortForwards();

    expect(await askedPodsEventually((ids) => ids.length === 2 && ids[0] === proxyIdOn(0) && ids[1] === proxyIdOn(1))).toEqual([
      proxyIdOn(0),
      proxyIdOn(1),
    ]);
    expect(sessionsTo(0)).toBeGreaterThan(before[0]);
    expect(sessionsTo(1)).toBeGreaterThan(before[1]);
    expect(await eventually(() => kube.activePortForwards, (active) => active === 2)).toBe(2);
    expect(tunnels()).toEqual(local); // the local listeners survive; only the sessions behind them are new
  });

  it('a local connection reset mid-session does not take the proxy down and ends its session', async () => {
    const port = Number(tunnels()[podName(0)].split(':')[1]);
    const active = kube.activePortForwards;
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    expect(await eventually(() => kube.activePortForwards, (n) => n === active + 1)).toBe(active + 1);
    await new Promise((resolve) => setTimeout(resolve, 100)); // let client-node start reading the local socket

    socket.resetAndDestroy();

    expect(await eventually(() => kube.activePortForwards, (n) => n === active)).toBe(active);
    expect(await askedPods()).toEqual([proxyIdOn(0), proxyIdOn(1)]);
  });

  it('deleting a pod closes its tunnel and it is no longer asked', async () => {
    const local = tunnels();
    const deletedPort = Number(local[podName(1)].split(':')[1]);

    kube.deletePod(NS, podName(1));

    expect(await askedPodsEventually((ids) => ids.length === 1)).toEqual([proxyIdOn(0)]);
    const streamsBefore = istiods[1].streams.length;
    expect(await eventually(() => accepts(deletedPort), (accepting) => !accepting)).toBe(false);
    expect(await eventually(() => kube.activePortForwards, (active) => active === 1)).toBe(1);
    for (let i = 0; i < 5; i++) expect(await askedPods()).toEqual([proxyIdOn(0)]);
    expect(istiods[1].streams.length).toBe(streamsBefore);
    expect(tunnels()).toEqual({ [podName(0)]: local[podName(0)] });
  });

  it('closing the proxy closes every tunnel and its port-forward session', async () => {
    const ports = Object.values(tunnels()).map((address) => Number(address.split(':')[1]));
    client.close();
    await proxy!.close();
    proxy = undefined;

    for (const port of ports) expect(await accepts(port)).toBe(false);
    expect(await eventually(() => kube.activePortForwards, (active) => active === 0)).toBe(0);
  });
});
