import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeClientConfigs } from '../tools/cli/xds-decoders.js';
import { DiscoveryService } from '../src/modules/discovery/discovery.service.js';
import { KUBE_NS, startKubeMesh, type KubeMesh } from './kit/kube-mesh.js';
import { eventually } from './kit/wait-for.js';

const SYNCZ = 'istio.io/debug/syncz';

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

describe('UPSTREAM_MODE=port-forward through the pods/portforward subresource (real client-node PortForward)', () => {
  let mesh: KubeMesh;

  const sessionsTo = (i: number) => mesh.kube.portForwardSessions.filter((session) => session.pod === mesh.podName(i)).length;

  /** Where the proxy dials each pod: its local tunnel end, by pod name. */
  function tunnels(): Record<string, string> {
    const discovery = mesh.proxy.app.get(DiscoveryService);
    return Object.fromEntries(discovery.snapshot().map((instance) => [instance.name, `${instance.address}:${instance.port}`]));
  }

  /** The proxies of every istiod that answered; rejects when the request itself fails. */
  async function askedPods(): Promise<string[]> {
    const { response } = await mesh.client.request(SYNCZ, [], { timeoutMs: 10_000 });
    return decodeClientConfigs(response)
      .map((config) => config.node?.id ?? '')
      .sort();
  }

  /** askedPods() retried (failures included) until `accept`, for a bounded time. */
  async function askedPodsEventually(accept: (ids: string[]) => boolean, timeoutMs = 8000): Promise<string[]> {
    return eventually(() => askedPods().catch((err: Error) => [`request failed: ${err.message}`]), accept, timeoutMs);
  }

  beforeAll(async () => {
    // Each istiod "pod" is a simulator on its own loopback IP; both share ISTIOD_PORT, as pods do.
    // The default AUTH_MODE=tokenreview asks the same test API server that serves the port-forwards.
    mesh = await startKubeMesh({ podIps: ['127.0.0.2', '127.0.0.3'], initialPods: 2, env: { UPSTREAM_MODE: 'port-forward' } });
  });
  afterAll(async () => mesh?.stop());

  it('reaches both istiods through one local tunnel each, opened with the kubeconfig token', async () => {
    expect(await askedPodsEventually((ids) => ids.length === 2)).toEqual([mesh.proxyIdOn(0), mesh.proxyIdOn(1)]);

    const local = tunnels();
    expect(Object.keys(local).sort()).toEqual([mesh.podName(0), mesh.podName(1)]);
    for (const address of Object.values(local)) expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(mesh.kube.portForwardSessions.map((session) => session.pod).sort()).toEqual([mesh.podName(0), mesh.podName(1)]);
    expect(mesh.kube.portForwardSessions.every((session) => session.port === mesh.istiods[0].port)).toBe(true);
    const upgrades = mesh.kube.requests.filter((request) => request.subresource === 'portforward');
    expect(upgrades.map((request) => request.authorization)).toEqual(['Bearer fake-kube-api-token', 'Bearer fake-kube-api-token']);
  });

  it('20 requests reuse the tunnels: at most one port-forward session per pod', async () => {
    for (let i = 0; i < 20; i++) expect(await askedPods()).toEqual([mesh.proxyIdOn(0), mesh.proxyIdOn(1)]);

    expect(sessionsTo(0)).toBe(1);
    expect(sessionsTo(1)).toBe(1);
    expect(mesh.kube.activePortForwards).toBe(2);
  });

  it('after the port-forwards drop, grpc-js reconnects through a new session per pod', async () => {
    const before = [sessionsTo(0), sessionsTo(1)];
    const local = tunnels();

    mesh.kube.dropPortForwards();

    expect(await askedPodsEventually((ids) => ids.length === 2 && ids[0] === mesh.proxyIdOn(0) && ids[1] === mesh.proxyIdOn(1))).toEqual([
      mesh.proxyIdOn(0),
      mesh.proxyIdOn(1),
    ]);
    expect(sessionsTo(0)).toBeGreaterThan(before[0]);
    expect(sessionsTo(1)).toBeGreaterThan(before[1]);
    expect(
      await eventually(
        () => mesh.kube.activePortForwards,
        (active) => active === 2,
      ),
    ).toBe(2);
    expect(tunnels()).toEqual(local); // the local listeners survive; only the sessions behind them are new
  });

  it('a local connection reset mid-session does not take the proxy down and ends its session', async () => {
    const port = Number(tunnels()[mesh.podName(0)].split(':')[1]);
    const active = mesh.kube.activePortForwards;
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    expect(
      await eventually(
        () => mesh.kube.activePortForwards,
        (n) => n === active + 1,
      ),
    ).toBe(active + 1);
    await new Promise((resolve) => setTimeout(resolve, 100)); // let client-node start reading the local socket

    socket.resetAndDestroy();

    expect(
      await eventually(
        () => mesh.kube.activePortForwards,
        (n) => n === active,
      ),
    ).toBe(active);
    expect(await askedPods()).toEqual([mesh.proxyIdOn(0), mesh.proxyIdOn(1)]);
  });

  it('deleting a pod closes its tunnel and it is no longer asked', async () => {
    const local = tunnels();
    const deletedPort = Number(local[mesh.podName(1)].split(':')[1]);

    mesh.kube.deletePod(KUBE_NS, mesh.podName(1));

    expect(await askedPodsEventually((ids) => ids.length === 1)).toEqual([mesh.proxyIdOn(0)]);
    const streamsBefore = mesh.istiods[1].streams.length;
    expect(
      await eventually(
        () => accepts(deletedPort),
        (accepting) => !accepting,
      ),
    ).toBe(false);
    expect(
      await eventually(
        () => mesh.kube.activePortForwards,
        (active) => active === 1,
      ),
    ).toBe(1);
    for (let i = 0; i < 5; i++) expect(await askedPods()).toEqual([mesh.proxyIdOn(0)]);
    expect(mesh.istiods[1].streams.length).toBe(streamsBefore);
    expect(tunnels()).toEqual({ [mesh.podName(0)]: local[mesh.podName(0)] });
  });

  it('closing the proxy closes every tunnel and its port-forward session', async () => {
    const ports = Object.values(tunnels()).map((address) => Number(address.split(':')[1]));
    await mesh.closeProxy();

    for (const port of ports) expect(await accepts(port)).toBe(false);
    expect(
      await eventually(
        () => mesh.kube.activePortForwards,
        (active) => active === 0,
      ),
    ).toBe(0);
  });
});
