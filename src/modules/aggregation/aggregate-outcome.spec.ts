import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { answer, instance, response } from '../../../test/kit/xds-fixtures.js';
import { statsOf } from './aggregate-outcome.js';

describe('statsOf', () => {
  it('counts who was asked, answered, failed and skipped, keeping instance order', () => {
    const sut = statsOf([
      answer('istiod-a', response('istio.io/debug/config_dump', [])),
      { instance: instance('istiod-b'), error: { code: status.UNAVAILABLE, message: 'down', reason: 'unavailable' }, latencyMs: 1 },
      answer('istiod-c', response('istio.io/debug/config_dump', [])),
      { instance: instance('istiod-d'), skipped: true },
    ]);
    expect(sut).toEqual({ asked: 4, answered: ['istiod-a', 'istiod-c'], failed: ['istiod-b'], skipped: 1 });
  });

  it('is all zeros for no results', () => {
    expect(statsOf([])).toEqual({ asked: 0, answered: [], failed: [], skipped: 0 });
  });
});
