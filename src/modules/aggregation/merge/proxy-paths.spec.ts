import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../common/clock.js';
import { envoyTypes, typeUrlOf } from '../../../common/proto.js';
import { DiscoveryResponse, ProtoAny } from '../../../common/xds-types.js';
import type { Located } from '../../../../test/kit/locate-document.js';
import { answer, debugAny, identifier, instance, request, response } from '../../../../test/kit/xds-fixtures.js';
import { InstanceError } from '../fanout-result.js';
import { InstanceHealth } from '../instance-health.js';
import { parseDebugPath } from './debug-path.js';
import { InternalDebugStrategy } from './internal-debug.strategy.js';
import { MergeContext } from './merge-strategy.js';
import { MISSING_PROXY_ID_BODY } from './proxy-paths.js';

const DEBUG = 'istio.io/debug';
const SYNCZ = 'istio.io/debug/syncz';
const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const NDS = 'type.googleapis.com/istio.networking.nds.v1.NameTable';
const CUSTOM = 'type.googleapis.com/example.Custom';

interface ProxySpec {
  id: string;
  cluster?: string;
  version?: string;
  types?: Array<{ url: string; status: string; at?: string }>;
}

function clientConfig({ id, cluster, version = '1.27.3', types }: ProxySpec): ProtoAny {
  const ClientConfig = envoyTypes().lookupType('envoy.service.status.v3.ClientConfig');
  const fields: Record<string, { stringValue: string }> = { ISTIO_VERSION: { stringValue: version } };
  if (cluster) fields.CLUSTER_ID = { stringValue: cluster };
  const configs = (types ?? [{ url: CDS, status: 'SYNCED', at: '2026-01-01T00:01:00Z' }]).map(({ url, status, at }) => {
    const ms = at ? Date.parse(at) : undefined;
    return {
      type_url: url,
      config_status: status,
      ...(ms !== undefined && { last_updated: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 } }),
    };
  });
  const message = ClientConfig.fromObject({ node: { id, metadata: { fields } }, generic_xds_configs: configs });
  return { type_url: typeUrlOf('envoy.service.status.v3.ClientConfig'), value: Buffer.from(ClientConfig.encode(message).finish()) };
}

function synczOf(name: string, proxies: ProxySpec[], version = '1.27.3'): ReturnType<typeof answer> {
  return answer(name, response(SYNCZ, proxies.map(clientConfig), identifier(name, version)));
}

function ask(path: string, answers: ReturnType<typeof answer>[], context: Partial<MergeContext> = {}, health?: InstanceHealth): string {
  const merged: DiscoveryResponse = new InternalDebugStrategy(health).merge(request(DEBUG, [path]), answers, {
    log: () => undefined,
    ...context,
  });
  expect(merged.type_url).toBe(DEBUG);
  expect(merged.resources).toHaveLength(1);
  expect(merged.resources[0].type_url).toBe(DEBUG);
  return Buffer.from(merged.resources[0].value).toString('utf8');
}

const located = (body: string) => JSON.parse(body) as Located;

const failure = (name: string): InstanceError => ({
  instance: instance(name),
  error: { code: 4, message: 'no answer within 3000 ms', reason: 'timeout' },
  latencyMs: 3000,
});

describe('istioctl-proxy/locate', () => {
  const live: ProxySpec = {
    id: 'details-1.bookinfo',
    cluster: 'east',
    version: '1.26.1',
    types: [
      { url: CDS, status: 'SYNCED', at: '2026-01-01T00:05:00Z' },
      { url: EDS, status: 'SYNCED', at: '2026-01-01T00:05:00.250Z' },
    ],
  };
  const dead: ProxySpec = {
    ...live,
    types: [
      { url: CDS, status: 'SYNCED', at: '2026-01-01T00:09:00Z' },
      { url: EDS, status: 'STALE', at: '2026-01-01T00:09:30Z' },
    ],
  };

  it('asks every replica for syncz with the caller’s request otherwise unchanged', () => {
    const sut = new InternalDebugStrategy();
    const caller = request(DEBUG, ['istioctl-proxy/locate?proxyID=a.ns']);
    expect(sut.upstreamRequest(caller)).toEqual({ ...caller, type_url: SYNCZ, resource_names: [] });
    expect(sut.upstreamRequest(request(DEBUG, ['/debug/istioctl-proxy/replicas'])).type_url).toBe(SYNCZ);
    const other = request(DEBUG, ['syncz']);
    expect(sut.upstreamRequest(other)).toBe(other);
    expect(sut.upstreamRequest(request(DEBUG, ['istioctl-proxy/nope'])).type_url).toBe(DEBUG); // istiod's 404, then `list`
    expect(sut.selectInstances(caller, [instance('a'), instance('b')])).toHaveLength(2);
    expect(sut.timeoutMs(caller, { defaultMs: 3000, maxMs: 60_000 })).toBeUndefined();
  });

  it('classifies only the two served paths as the proxy’s own', () => {
    expect(parseDebugPath('istioctl-proxy/locate?proxyID=a.b').pathClass).toBe('istioctl-proxy');
    expect(parseDebugPath('istioctl-proxy/replicas?pretty').pathClass).toBe('istioctl-proxy');
    expect(parseDebugPath('istioctl-proxy/other').pathClass).toBe('unknown');
  });

  it('finds a proxy on one replica: cluster, the proxy’s version, newest last_updated, short types', () => {
    const body = ask('istioctl-proxy/locate?proxyID=details-1.bookinfo', [
      synczOf('istiod-a', [{ id: 'other.bookinfo' }]),
      synczOf('istiod-b', [live]),
    ]);
    expect(body).toBe(
      '{"proxy":"details-1.bookinfo","replicas":[{"istiod":"istiod-b","cluster_id":"east","istio_version":"1.26.1",' +
        '"last_updated":"2026-01-01T00:05:00.250Z","types":{"CDS":"SYNCED","EDS":"SYNCED"}}]}',
    );
  });

  it('lists both replicas of a reconnected proxy in pod-name order, the dead copy with its STALE type', () => {
    const parsed = located(
      ask('istioctl-proxy/locate?proxyID=details-1.bookinfo', [synczOf('istiod-a', [dead]), synczOf('istiod-b', [live])]),
    );
    expect(parsed.replicas.map((r) => r.istiod)).toEqual(['istiod-a', 'istiod-b']);
    expect(parsed.replicas[0]).toMatchObject({ last_updated: '2026-01-01T00:09:30Z', types: { CDS: 'SYNCED', EDS: 'STALE' } });
    expect(parsed.replicas[1].types).toEqual({ CDS: 'SYNCED', EDS: 'SYNCED' });
  });

  it('keeps one entry per cluster for the same pod.ns, sorted by cluster on a replica; &cluster= filters', () => {
    const twins = [
      synczOf('istiod-a', [
        { id: 'mongodb-0.db', cluster: 'west' },
        { id: 'mongodb-0.db', cluster: 'east' },
      ]),
    ];
    const all = located(ask('istioctl-proxy/locate?proxyID=mongodb-0.db', twins));
    expect(all.replicas.map((r) => r.cluster_id)).toEqual(['east', 'west']);
    const west = located(ask('istioctl-proxy/locate?proxyID=mongodb-0.db&cluster=west', twins));
    expect(west.replicas.map((r) => r.cluster_id)).toEqual(['west']);
  });

  it('matches proxyID exactly, answers an empty list when nobody holds it, and names replicas that failed', () => {
    const answers = [synczOf('istiod-a', [{ id: 'details-10.bookinfo' }]), synczOf('istiod-c', [])];
    expect(ask('istioctl-proxy/locate?proxyID=details-1.bookinfo', answers)).toBe('{"proxy":"details-1.bookinfo","replicas":[]}');
    expect(located(ask('istioctl-proxy/locate?proxyID=x.ns', answers, { failed: [failure('istiod-b')] }))).toEqual({
      proxy: 'x.ns',
      replicas: [],
      missing: ['istiod-b'],
    });
  });

  it('answers istiod’s own text without proxyID, indents with ?pretty, and reads legacy and unknown types', () => {
    expect(ask('istioctl-proxy/locate', [synczOf('istiod-a', [])])).toBe(MISSING_PROXY_ID_BODY);
    expect(ask('istioctl-proxy/locate?proxyID=', [synczOf('istiod-a', [])])).toBe(MISSING_PROXY_ID_BODY);
    const legacy: ProxySpec = {
      id: 'old.ns',
      types: [
        { url: CDS, status: 'NOT_SENT' },
        { url: NDS, status: 'ERROR' },
        { url: CUSTOM, status: 'SYNCED' },
      ],
    };
    const pretty = ask('istioctl-proxy/locate?proxyID=old.ns&pretty', [synczOf('istiod-a', [legacy])]);
    expect(pretty).toMatch(/^\{\n {2}"proxy": "old\.ns",\n/);
    expect(pretty.endsWith('}\n')).toBe(true);
    expect(located(pretty).replicas[0]).toEqual({
      istiod: 'istiod-a',
      cluster_id: '',
      istio_version: '1.27.3',
      last_updated: null,
      types: { CDS: 'NOT_SENT', NDS: 'ERROR', [CUSTOM]: 'SYNCED' },
    });
  });

  it('ignores resources that are not readable ClientConfigs', () => {
    const odd = answer(
      'istiod-a',
      response(SYNCZ, [debugAny('not protobuf'), { type_url: clientConfig(live).type_url, value: Buffer.from([0xff]) }]),
    );
    expect(ask('istioctl-proxy/locate?proxyID=details-1.bookinfo', [odd, synczOf('istiod-b', [live])])).toContain('"istiod":"istiod-b"');
  });
});

describe('istioctl-proxy/replicas', () => {
  it('lists each replica’s version, revision, proxy count and outcome, failed ones included, in pod-name order', () => {
    const health = new InstanceHealth(new ManualClock(Date.parse('2026-01-01T00:10:00Z')));
    const answers = [synczOf('istiod-a', [{ id: 'a.ns' }, { id: 'b.ns' }], '1.26.1'), synczOf('istiod-c', [], '1.27.3')];
    health.record([...answers, failure('istiod-b')]);
    const parsed: unknown = JSON.parse(ask('istioctl-proxy/replicas', answers, { failed: [failure('istiod-b')] }, health));
    expect(parsed).toEqual({
      replicas: [
        {
          istiod: 'istiod-a',
          outcome: 'answered',
          version: '1.26.1',
          revision: 'rev-1.26.1',
          proxies: 2,
          latency_ms: 1,
          last_answer_at: '2026-01-01T00:10:00.000Z',
        },
        {
          istiod: 'istiod-b',
          outcome: 'failed',
          error: 'timeout: no answer within 3000 ms',
          last_error_at: '2026-01-01T00:10:00.000Z',
          last_error: 'timeout: no answer within 3000 ms',
        },
        {
          istiod: 'istiod-c',
          outcome: 'answered',
          version: '1.27.3',
          revision: 'rev-1.27.3',
          proxies: 0,
          latency_ms: 1,
          last_answer_at: '2026-01-01T00:10:00.000Z',
        },
      ],
    });
  });

  it('works without InstanceHealth and without control_plane', () => {
    const bare = answer('istiod-a', response(SYNCZ, [clientConfig({ id: 'a.ns' })]));
    expect(ask('istioctl-proxy/replicas', [bare])).toBe(
      '{"replicas":[{"istiod":"istiod-a","outcome":"answered","version":"","revision":"","proxies":1,"latency_ms":1}]}',
    );
  });
});

describe('list', () => {
  it('adds the proxy’s own paths to istiod’s path list, and leaves other bodies alone', () => {
    const list = ask('list', [answer('istiod-a', response(DEBUG, [debugAny('["adsz","syncz"]')]))]);
    expect(JSON.parse(list) as unknown).toEqual(['adsz', 'istioctl-proxy/locate', 'istioctl-proxy/replicas', 'syncz']);
    expect(ask('list', [answer('istiod-a', response(DEBUG, [debugAny('404 page not found\n')]))])).toBe('404 page not found\n');
  });
});
