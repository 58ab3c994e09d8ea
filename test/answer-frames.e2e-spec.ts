import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adsClientConstructor } from '../src/common/proto.js';
import type { DiscoveryRequest, DiscoveryResponse } from '../src/common/xds-types.js';
import { istioctlNode } from '../tools/cli/istioctl-node.js';
import { decodeClientConfigs } from '../tools/cli/xds-decoders.js';
import { goTimeNonce } from '../tools/cli/go-time.js';
import { PADDING_METADATA_KEY } from '../tools/sim/client-config.encoder.js';
import { buildDemoMesh } from '../tools/sim/mesh-fixtures.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';
import { scrapeMetrics } from './kit/metrics-scrape.js';
import { grpcFrame, openRawCall, openRawSession } from './kit/raw-grpc.js';
import { waitFor } from './kit/wait-for.js';

/*
 * Large answers are encoded into reused buffers (ANSWER_BUFFER_POOL_BYTES) and sent without a copy.
 * A buffer must never be rewritten while a connection may still read it: these tests hold one answer
 * half-sent behind a caller that stopped reading while others are answered from the pool, and check
 * every byte each caller gets against what it asked for.
 */

const SYNCZ = 'istio.io/debug/syncz';
const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const MIB = 1024 * 1024;
const POOL_GAUGE = 'istioctl_proxy_answer_buffer_pool_bytes';
const ads = adsClientConstructor().service.StreamAggregatedResources;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function syncz(): Buffer {
  const request: DiscoveryRequest = {
    version_info: '',
    node: istioctlNode(),
    resource_names: [],
    type_url: SYNCZ,
    response_nonce: goTimeNonce(),
  };
  return grpcFrame(ads.requestSerialize(request));
}

/** Each istiod pads the metadata of its first proxy with `paddingBytes` of 'x'. */
function setPadding(mesh: MeshHarness, bytes: number): void {
  for (const istiod of mesh.istiods) istiod.knobs.paddingBytes = bytes;
}

/** The merged answer holds every proxy, and each padded one carries exactly `padding` bytes of 'x'. */
function expectIntact(response: DiscoveryResponse, proxies: number, padding: number): void {
  const configs = decodeClientConfigs(response);
  expect(configs).toHaveLength(proxies);
  const padded = configs
    .map((config) => config.node?.metadata?.fields?.[PADDING_METADATA_KEY]?.stringValue)
    .filter((value): value is string => value !== undefined);
  expect(padded.length).toBeGreaterThan(0);
  for (const value of padded) expect(value === 'x'.repeat(padding)).toBe(true);
}

describe('answer frames from the buffer pool', () => {
  const POOL_BYTES = 8 * MIB;
  let mesh: MeshHarness;
  let proxies: number;

  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh(), env: { ANSWER_BUFFER_POOL_BYTES: String(POOL_BYTES) } });
    proxies = decodeClientConfigs((await mesh.client().request(SYNCZ)).response).length;
  });
  afterAll(async () => mesh?.stop());

  it('an answer held half-sent by a caller that stopped reading stays intact while 20 others are encoded into pooled buffers', async () => {
    const HELD_PADDING = 700 * 1024; // ~2 MiB merged: pooled
    setPadding(mesh, HELD_PADDING);
    const raw = openRawSession(mesh.proxyAddress);
    try {
      const held = openRawCall(raw.session, ADS_PATH, { authorization: `Bearer ${mesh.istioctlToken}` });
      held.stream.on('error', () => undefined);
      held.stream.pause(); // Node's 64 KiB windows: the proxy's write stalls after the first 64 KiB
      held.stream.write(syncz());
      await sleep(500); // fanned out, encoded and partly written

      // Meanwhile other answers, each of its own size, go through the pool (reusing whatever it holds).
      const client = mesh.client();
      for (let i = 0; i < 20; i++) {
        const padding = 400 * 1024 + i * 7919;
        setPadding(mesh, padding);
        expectIntact((await client.request(SYNCZ)).response, proxies, padding);
      }

      raw.session.setLocalWindowSize(16 * MIB);
      held.stream.resume();
      const message = await held.nextMessage();
      expectIntact(ads.responseDeserialize(message) as DiscoveryResponse, proxies, HELD_PADDING);
    } finally {
      raw.session.destroy();
      setPadding(mesh, 0);
    }
  }, 60_000);

  it('keeps at most ANSWER_BUFFER_POOL_BYTES: 6 concurrent ~3 MiB answers leave 2 buffers (8 MiB), none past the bound', async () => {
    setPadding(mesh, MIB); // ~3 MiB merged: a 3 or 4 MiB buffer each
    try {
      const clients = Array.from({ length: 6 }, () => mesh.client());
      const answers = await Promise.all(clients.map((client) => client.request(SYNCZ)));
      for (const { response } of answers) expectIntact(response, proxies, MIB);
      expect(await waitFor(async () => (await scrapeMetrics(mesh.proxy.config.httpPort)).value(POOL_GAUGE) > 0)).toBe(true);
      const kept = (await scrapeMetrics(mesh.proxy.config.httpPort)).value(POOL_GAUGE);
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThanOrEqual(POOL_BYTES);
    } finally {
      setPadding(mesh, 0);
    }
  }, 60_000);

  it('a caller that resets its stream mid-answer leaves nothing behind that a later answer could pick up', async () => {
    setPadding(mesh, 700 * 1024);
    try {
      for (let i = 0; i < 5; i++) {
        const raw = openRawSession(mesh.proxyAddress);
        const call = openRawCall(raw.session, ADS_PATH, { authorization: `Bearer ${mesh.istioctlToken}` });
        call.stream.on('error', () => undefined);
        call.stream.pause();
        call.stream.write(syncz());
        await sleep(200);
        call.stream.close(grpc.status.CANCELLED);
        raw.session.destroy();
      }
      const { response: answer } = await mesh.client().request(SYNCZ);
      expectIntact(answer, proxies, 700 * 1024);
      expect((await scrapeMetrics(mesh.proxy.config.httpPort)).value(POOL_GAUGE)).toBeLessThanOrEqual(POOL_BYTES);
    } finally {
      setPadding(mesh, 0);
    }
  }, 60_000);
});
