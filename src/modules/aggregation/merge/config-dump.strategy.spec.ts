import { describe, expect, it } from 'vitest';
import { answer, debugAny, request, response } from '../../../../test/kit/xds-fixtures.js';
import { ConfigDumpStrategy } from './config-dump.strategy.js';

const CONFIG_DUMP = 'istio.io/debug/config_dump';

describe('ConfigDumpStrategy', () => {
  const sut = new ConfigDumpStrategy();
  const req = request(CONFIG_DUMP, ['reviews-v1-1.bookinfo']);

  it('answers with the first answer that has resources, by arrival', () => {
    const empty = answer('istiod-a', response(CONFIG_DUMP, [], undefined, 'a/1'), 0);
    const late = answer('istiod-b', response(CONFIG_DUMP, [debugAny('late')], undefined, 'b/1'), 2);
    const early = answer('istiod-c', response(CONFIG_DUMP, [debugAny('early')], undefined, 'c/1'), 1);
    const merged = sut.merge(req, [empty, late, early]);
    expect(Buffer.from(merged.resources[0].value).toString()).toBe('early');
    expect(merged.version_info).toBe('c/1');
  });

  it('is conclusive only for a non-empty answer', () => {
    expect(sut.isConclusive(req, answer('a', response(CONFIG_DUMP, [])))).toBe(false);
    expect(sut.isConclusive(req, answer('a', response(CONFIG_DUMP, [debugAny('x')])))).toBe(true);
  });

  it('answers empty (OK) when no istiod holds the pod, so istioctl prints its own not-found', () => {
    const merged = sut.merge(req, [
      answer('istiod-a', response(CONFIG_DUMP, [], undefined, 'a/1')),
      answer('istiod-b', response(CONFIG_DUMP, [])),
    ]);
    expect(merged.resources).toEqual([]);
    expect(merged.version_info).toBe('a/1');
  });
});
