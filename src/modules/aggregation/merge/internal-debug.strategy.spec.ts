import { describe, expect, it } from 'vitest';
import { answer, debugAny, instance, request, response } from '../../../../test/kit/xds-fixtures.js';
import { parseDebugPath, profileRunMs } from './debug-path.js';
import { InternalDebugStrategy, PROFILE_MARGIN_MS } from './internal-debug.strategy.js';

const DEBUG = 'istio.io/debug';
const NOT_CONNECTED = 'Proxy not connected to this Pilot instance. It may be connected to another instance.\n';

function run(path: string, bodies: string[], logs: string[] = []): string {
  const sut = new InternalDebugStrategy();
  const answers = bodies.map((body, i) => answer(`istiod-${i}`, response(DEBUG, [debugAny(body)])));
  const merged = sut.merge(request(DEBUG, [path]), answers, { log: (m) => logs.push(m) });
  expect(merged.resources).toHaveLength(1);
  expect(merged.resources[0].type_url).toBe(DEBUG);
  return Buffer.from(merged.resources[0].value).toString();
}

describe('InternalDebugStrategy', () => {
  it('classifies paths as the contract says', () => {
    const classes: Record<string, string> = {
      syncz: 'union',
      'adsz?proxyID=a.b': 'proxy-scoped',
      'adsz?push=true': 'action',
      'config_dump?proxyID=a.b': 'proxy-scoped',
      telemetryz: 'mesh-wide',
      push_status: 'replica-local',
      clusterz: 'replica-local',
      'cachez?clear=true': 'action',
      'pprof/profile?seconds=30': 'profile',
      'pprof/': 'profile',
      '/debug/pprof/heap': 'profile',
      nope: 'unknown',
    };
    expect(Object.fromEntries(Object.keys(classes).map((path) => [path, parseDebugPath(path).pathClass]))).toEqual(classes);
    expect(parseDebugPath('/debug/configz').path).toBe('configz');
  });

  it('unions syncz arrays, de-duplicated on (cluster_id, proxy)', () => {
    const body = run('syncz', [
      JSON.stringify([{ proxy: 'a.ns' }, { cluster_id: 'east', proxy: 'b.ns' }]),
      JSON.stringify([{ cluster_id: 'east', proxy: 'b.ns' }, { cluster_id: 'west', proxy: 'b.ns' }, { proxy: 'c.ns' }]),
    ]);
    expect(JSON.parse(body)).toEqual([
      { proxy: 'a.ns' },
      { cluster_id: 'east', proxy: 'b.ns' },
      { cluster_id: 'west', proxy: 'b.ns' },
      { proxy: 'c.ns' },
    ]);
  });

  it('keeps the live syncz entry of a reconnected proxy: STALE (sent ≠ acked) loses even when pushed later', () => {
    const nonce = (time: string) => `${time}/42c0ffee-0000-4000-8000-000000000000`;
    const dead = {
      cluster_id: 'east',
      proxy: 'r.ns',
      cluster_sent: nonce('2026-01-01T00:09:00Z'),
      cluster_acked: nonce('2026-01-01T00:08:00Z'),
    };
    const live = {
      cluster_id: 'east',
      proxy: 'r.ns',
      cluster_sent: nonce('2026-01-01T00:01:00Z'),
      cluster_acked: nonce('2026-01-01T00:01:00Z'),
    };
    const newer = { ...live, cluster_sent: nonce('2026-01-01T00:02:00Z'), cluster_acked: nonce('2026-01-01T00:02:00Z') };
    const logs: string[] = [];
    expect(JSON.parse(run('syncz', [JSON.stringify([dead]), JSON.stringify([live])], logs))).toEqual([live]);
    expect(JSON.parse(run('syncz', [JSON.stringify([live]), JSON.stringify([newer])], logs))).toEqual([newer]);
    expect(JSON.parse(run('syncz', [JSON.stringify([{ proxy: 'x.ns', v: 1 }]), JSON.stringify([{ proxy: 'x.ns', v: 2 }])], logs))).toEqual([
      { proxy: 'x.ns', v: 1 },
    ]);
    expect(logs).toEqual([
      'internal-debug syncz: 1 proxy reported by more than one istiod: 1 kept the non-STALE copy, 0 kept the newest push (sent nonce), 0 tie → first replica',
      'internal-debug syncz: 1 proxy reported by more than one istiod: 0 kept the non-STALE copy, 1 kept the newest push (sent nonce), 0 tie → first replica',
      'internal-debug syncz: 1 proxy reported by more than one istiod: 0 kept the non-STALE copy, 0 kept the newest push (sent nonce), 1 tie → first replica',
    ]);
  });

  it('sums and concatenates adsz/connections client lists; a non-JSON body contributes nothing', () => {
    const body = run('connections', [
      JSON.stringify({ totalClients: 1, clients: [{ connectionId: 'a' }] }),
      '404 page not found\n',
      JSON.stringify({ totalClients: 2, clients: [{ connectionId: 'b' }, { connectionId: 'c' }] }),
    ]);
    expect(JSON.parse(body)).toEqual({ totalClients: 3, clients: [{ connectionId: 'a' }, { connectionId: 'b' }, { connectionId: 'c' }] });
  });

  it('merges instancesz objects keyed by proxy id; ?pretty is indented', () => {
    const body = run('instancesz?pretty', [JSON.stringify({ 'a.ns': [1] }), JSON.stringify({ 'b.ns': [2] })]);
    expect(JSON.parse(body)).toEqual({ 'a.ns': [1], 'b.ns': [2] });
    expect(body).toContain('\n  "a.ns"');
  });

  it('takes the first proxy-scoped body that is not "Proxy not connected"', () => {
    expect(run('config_dump?proxyID=r.ns', [NOT_CONNECTED, '{"found":true}', '{"found":"later"}'])).toBe('{"found":true}');
    expect(run('config_dump?proxyID=r.ns', [NOT_CONNECTED, NOT_CONNECTED])).toBe(NOT_CONNECTED);
  });

  it('answers mesh-wide and unknown paths from the first replica', () => {
    expect(run('configz', ['first', 'second'])).toBe('first');
    expect(run('nope', ['404 page not found\n', '404 page not found\n'])).toBe('404 page not found\n');
  });

  it('labels replica-local bodies (clusterz, push_status, cachez, krtz) by replica: JSON parsed, other text raw', () => {
    const clusterz = run('clusterz', [
      JSON.stringify([{ id: 'east', syncStatus: 'synced' }]),
      JSON.stringify([{ id: 'east', syncStatus: 'timeout' }]),
      '404 page not found\n',
    ]);
    expect(JSON.parse(clusterz)).toEqual({
      'istiod-0': [{ id: 'east', syncStatus: 'synced' }],
      'istiod-1': [{ id: 'east', syncStatus: 'timeout' }],
      'istiod-2': '404 page not found\n',
    });
    expect(clusterz).not.toContain('\n  ');
    const pretty = run('push_status?pretty', ['{"a":1}', '{"b":2}']);
    expect(JSON.parse(pretty)).toEqual({ 'istiod-0': { a: 1 }, 'istiod-1': { b: 2 } });
    expect(pretty).toContain('\n  "istiod-0": {\n    "a": 1');
  });

  it('runs actions on every replica and joins the bodies', () => {
    expect(run('adsz?push=true', ['ok', 'ok'])).toBe('istiod-0: ok\nistiod-1: ok');
  });

  it('returns the first body when no union body is JSON', () => {
    expect(run('syncz', ['404 page not found\n', '404 page not found\n'])).toBe('404 page not found\n');
  });
});

describe('InternalDebugStrategy profiles (pprof/*)', () => {
  const sut = new InternalDebugStrategy();
  const limits = { defaultMs: 10_000, maxMs: 60_000 };
  const replicas = [instance('istiod-a'), instance('istiod-b'), instance('istiod-c')];

  it('asks only the first replica by name, and every replica otherwise', () => {
    expect(sut.selectInstances(request(DEBUG, ['pprof/profile?seconds=30']), replicas)).toEqual([replicas[0]]);
    expect(sut.selectInstances(request(DEBUG, ['pprof/heap']), replicas)).toEqual([replicas[0]]);
    expect(sut.selectInstances(request(DEBUG, ['clusterz']), replicas)).toEqual(replicas);
  });

  it('asks for a deadline that covers the profile run: seconds (Go default 30 s for profile) plus a margin', () => {
    expect(sut.timeoutMs(request(DEBUG, ['pprof/profile?seconds=30']), limits)).toBe(30_000 + PROFILE_MARGIN_MS);
    expect(sut.timeoutMs(request(DEBUG, ['pprof/profile']), limits)).toBe(30_000 + PROFILE_MARGIN_MS);
    expect(sut.timeoutMs(request(DEBUG, ['pprof/trace?seconds=12']), limits)).toBe(12_000 + PROFILE_MARGIN_MS);
    expect(sut.timeoutMs(request(DEBUG, ['pprof/heap']), limits)).toBe(10_000);
    expect(sut.timeoutMs(request(DEBUG, ['syncz']), limits)).toBeUndefined();
    expect(profileRunMs(parseDebugPath('pprof/trace'))).toBe(1000);
  });

  it('passes the binary profile through byte for byte', () => {
    const gzip = { type_url: DEBUG, value: Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x80]) };
    const merged = sut.merge(request(DEBUG, ['pprof/profile?seconds=1']), [answer('istiod-a', response(DEBUG, [gzip]))], {
      log: () => undefined,
    });
    expect(merged.resources).toEqual([gzip]);
    expect(merged.resources[0].value).toBe(gzip.value);
  });
});
