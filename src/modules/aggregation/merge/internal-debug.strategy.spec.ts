import { describe, expect, it } from 'vitest';
import { answer, debugAny, request, response } from '../../../../test/kit/xds-fixtures.js';
import { parseDebugPath } from './debug-path.js';
import { InternalDebugStrategy } from './internal-debug.strategy.js';

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
    expect(parseDebugPath('syncz').pathClass).toBe('union');
    expect(parseDebugPath('adsz?proxyID=a.b').pathClass).toBe('proxy-scoped');
    expect(parseDebugPath('adsz?push=true').pathClass).toBe('action');
    expect(parseDebugPath('config_dump?proxyID=a.b').pathClass).toBe('proxy-scoped');
    expect(parseDebugPath('telemetryz').pathClass).toBe('mesh-wide');
    expect(parseDebugPath('push_status').pathClass).toBe('replica-local');
    expect(parseDebugPath('nope').pathClass).toBe('unknown');
    expect(parseDebugPath('/debug/configz').path).toBe('configz');
  });

  it('unions syncz arrays, de-duplicated on proxy', () => {
    const body = run('syncz', [
      JSON.stringify([{ proxy: 'a.ns' }, { proxy: 'b.ns' }]),
      JSON.stringify([{ proxy: 'b.ns' }, { proxy: 'c.ns' }]),
    ]);
    expect(JSON.parse(body).map((e: { proxy: string }) => e.proxy)).toEqual(['a.ns', 'b.ns', 'c.ns']);
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

  it('answers mesh-wide and unknown paths from the first replica, logs replica-local ones', () => {
    expect(run('configz', ['first', 'second'])).toBe('first');
    expect(run('nope', ['404 page not found\n', '404 page not found\n'])).toBe('404 page not found\n');
    const logs: string[] = [];
    expect(run('push_status', ['{"a":1}', '{"b":2}'], logs)).toBe('{"a":1}');
    expect(logs[0]).toContain('replica-local');
  });

  it('runs actions on every replica and joins the bodies', () => {
    expect(run('adsz?push=true', ['ok', 'ok'])).toBe('istiod-0: ok\nistiod-1: ok');
  });

  it('returns the first body when no union body is JSON', () => {
    expect(run('syncz', ['404 page not found\n', '404 page not found\n'])).toBe('404 page not found\n');
  });
});
