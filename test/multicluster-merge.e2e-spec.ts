import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatProxyStatus } from '../tools/cli/format.js';
import { parseNodeMetadata } from '../tools/cli/node-metadata.js';
import { decodeClientConfigs, type ClientConfig } from '../tools/cli/xds-decoders.js';
import {
  EAST_CLUSTER,
  POD_IN_BOTH_CLUSTERS,
  RECONNECTED_WITH_STALE_COPY,
  WEST_CLUSTER,
  buildMulticlusterMesh,
} from '../tools/sim/mesh-fixtures.js';
import { captureLogs } from './kit/log-capture.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';

const SYNCZ = 'istio.io/debug/syncz';
const DEBUG = 'istio.io/debug';
/** Short, so a profile that runs longer shows the proxy grants it a longer deadline. */
const FANOUT_TIMEOUT_MS = 1000;

interface SyncStatus {
  cluster_id?: string;
  proxy: string;
  [field: string]: string | undefined;
}

const clusterOf = (config: ClientConfig) => parseNodeMetadata(config.node?.metadata).clusterId;
const bodyOf = (value: Uint8Array) => Buffer.from(value).toString('utf8');

describe('multicluster merges end to end (3 TLS istiods serving east and west, real proxy over TLS)', () => {
  const logs = captureLogs('info');
  const fixture = buildMulticlusterMesh();
  let mesh: MeshHarness;
  let byName: string[];
  /** istioctl's TLS mode (no verification); a DNS name as SNI, since an IP literal is not one (RFC 6066). */
  const client = () => mesh.client({ serverName: 'localhost' });

  beforeAll(async () => {
    mesh = await startMesh({ istiods: fixture, tls: true, logger: logs.logger, env: { FANOUT_TIMEOUT_MS: String(FANOUT_TIMEOUT_MS) } });
    byName = mesh.istiods.map((istiod) => istiod.podName).sort();
  });
  afterAll(async () => mesh?.stop());

  it('proxy-status keeps the same pod.ns of two clusters as two rows, each with its CLUSTER', async () => {
    const { response } = await client().request(SYNCZ);
    const configs = decodeClientConfigs(response);
    const proxies = configs.map((config) => `${clusterOf(config)}/${config.node?.id}`);
    const expected = new Set(fixture.flatMap((istiod) => (istiod.proxies ?? []).map((p) => `${p.clusterId}/${p.id}`)));
    expect([...proxies].sort()).toEqual([...expected].sort()); // every (cluster, id) exactly once
    expect(proxies).toContain(`${EAST_CLUSTER}/${POD_IN_BOTH_CLUSTERS}`);
    expect(proxies).toContain(`${WEST_CLUSTER}/${POD_IN_BOTH_CLUSTERS}`);
    const rows = formatProxyStatus(response)
      .split('\n')
      .filter((line) => line.startsWith(POD_IN_BOTH_CLUSTERS));
    expect(rows.map((row) => row.split(/\s+/)[1])).toEqual([EAST_CLUSTER, WEST_CLUSTER]);
  });

  it('a dead STALE copy with newer pushes loses to the live SYNCED copy, and the choice is logged', async () => {
    const { response } = await client().request(SYNCZ);
    const copies = decodeClientConfigs(response).filter((config) => config.node?.id === RECONNECTED_WITH_STALE_COPY);
    expect(copies).toHaveLength(1);
    expect(copies[0].generic_xds_configs.map((type) => type.config_status)).not.toContain('STALE');
    const summaries = logs.lines().filter((line) => String(line.msg).includes('reported by more than one istiod'));
    // details: the STALE rule; httpbin (reconnected, both copies SYNCED): the newest last_updated.
    expect(summaries.at(-1)?.msg).toBe(
      `${SYNCZ}: syncz: 2 proxies reported by more than one istiod: 1 kept the non-STALE copy, 1 kept the newest last_updated, 0 tie → first replica`,
    );
  });

  it('internal-debug syncz keeps both clusters’ entries and the live copy of the reconnected proxy', async () => {
    const { response } = await client().request(DEBUG, ['syncz']);
    const entries = JSON.parse(bodyOf(response.resources[0].value)) as SyncStatus[];
    const twins = entries.filter((entry) => entry.proxy === POD_IN_BOTH_CLUSTERS).map((entry) => entry.cluster_id);
    expect(twins.sort()).toEqual([EAST_CLUSTER, WEST_CLUSTER]);
    const details = entries.filter((entry) => entry.proxy === RECONNECTED_WITH_STALE_COPY);
    expect(details).toHaveLength(1);
    for (const [field, sent] of Object.entries(details[0])) {
      if (field.endsWith('_sent')) expect(details[0][field.replace(/_sent$/, '_acked')]).toBe(sent);
    }
  });

  it('internal-debug clusterz answers every replica’s body, labelled by replica pod name', async () => {
    const { response } = await client().request(DEBUG, ['clusterz']);
    const labelled = JSON.parse(bodyOf(response.resources[0].value)) as Record<string, Array<{ id: string; syncStatus: string }>>;
    expect(Object.keys(labelled)).toEqual(byName);
    const westOf = (replica: string) => labelled[replica].find((cluster) => cluster.id === WEST_CLUSTER)?.syncStatus;
    expect(mesh.istiods.map((istiod) => westOf(istiod.podName))).toEqual(['synced', 'synced', 'timeout']);
    const pretty = await client().request(DEBUG, ['clusterz?pretty']);
    expect(bodyOf(pretty.response.resources[0].value)).toContain(`\n  "${byName[0]}": [\n`);
  });

  it('pprof/profile goes to the first replica by name only, and may run longer than FANOUT_TIMEOUT_MS', async () => {
    const before = mesh.istiods.map((istiod) => istiod.streams.length);
    const started = Date.now();
    const { response, headers } = await client().request(DEBUG, ['pprof/profile?seconds=2']);
    expect(Date.now() - started).toBeGreaterThan(FANOUT_TIMEOUT_MS + 500);
    expect(headers['x-istioctl-proxy-missing']).toBeUndefined();
    const profile = Buffer.from(response.resources[0].value);
    expect([...profile.subarray(0, 2)]).toEqual([0x1f, 0x8b]); // gzip: binary bytes passed through untouched
    expect(gunzipSync(profile).toString()).toBe(`simulated cpu profile of ${byName[0]} (2 s)\n`);
    const asked = mesh.istiods.filter((istiod, i) =>
      istiod.streams.slice(before[i]).some((stream) => stream.requests.some((r) => r.resource_names[0]?.startsWith('pprof/'))),
    );
    expect(asked.map((istiod) => istiod.podName)).toEqual([byName[0]]);
  });
});
