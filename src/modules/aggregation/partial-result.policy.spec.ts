import { status } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { describe, expect, it } from 'vitest';
import { staticTestConfig } from '../../../test/kit/test-config.js';
import { answer, instance, request, response } from '../../../test/kit/xds-fixtures.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { FanoutResult, InstanceError } from './fanout-result.js';
import { MISSING_INSTANCES_HEADER, PartialResultPolicy } from './partial-result.policy.js';

const SYNCZ = 'istio.io/debug/syncz';

function build(partialResults: 'allow' | 'deny' = 'allow') {
  const metrics = new MetricsService();
  return { sut: new PartialResultPolicy(staticTestConfig({ PARTIAL_RESULTS: partialResults }), metrics), metrics };
}

const ok = (name: string) => answer(name, response(SYNCZ, []));
const failed = (name: string, code: number, message: string): InstanceError => ({
  instance: instance(name),
  error: { code, message, reason: 'x' },
  latencyMs: 1,
});

function refusal(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RpcException);
    return (err as RpcException).getError() as { code: number; message: string; metadata: { get(key: string): unknown[] } };
  }
  throw new Error('expected a refusal');
}

async function partialCount(metrics: MetricsService): Promise<number> {
  return (await metrics.partialAnswers.get()).values.reduce((sum, v) => sum + v.value, 0);
}

Logger.overrideLogger(false); // the warnings under test would only add noise to the test output

describe('PartialResultPolicy', () => {
  it('passes every answer through when nothing failed; skipped instances are neither', async () => {
    const { sut, metrics } = build('deny');
    const results: FanoutResult[] = [ok('a'), { instance: instance('b'), skipped: true }];
    expect(sut.apply(request(SYNCZ), results)).toEqual({ answers: [results[0]], errors: [] });
    expect(await partialCount(metrics)).toBe(0);
  });

  it('all failing: the first instance status code, every reason listed, missing instances in the trailer', () => {
    const { sut } = build();
    const error = refusal(() =>
      sut.apply(request(SYNCZ), [
        failed('istiod-a', status.PERMISSION_DENIED, 'authorization failed: no identities'),
        failed('istiod-b', status.UNAVAILABLE, 'connection refused'),
      ]),
    );
    expect(error.code).toBe(status.PERMISSION_DENIED);
    expect(error.message).toBe(
      'all 2 istiod instances failed: istiod-a: authorization failed: no identities; istiod-b: connection refused',
    );
    expect(error.metadata.get(MISSING_INSTANCES_HEADER)).toEqual(['istiod-a,istiod-b']);
  });

  it('PARTIAL_RESULTS=deny refuses a partial answer with UNAVAILABLE naming the failed instance', () => {
    const { sut } = build('deny');
    const error = refusal(() => sut.apply(request(SYNCZ), [ok('istiod-a'), failed('istiod-b', status.UNAVAILABLE, 'connection refused')]));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.message).toBe('1 of 2 istiod instances failed (PARTIAL_RESULTS=deny): istiod-b: connection refused');
    expect(error.metadata.get(MISSING_INSTANCES_HEADER)).toEqual(['istiod-b']);
  });

  it('PARTIAL_RESULTS=allow merges the others, reports the missing one and counts the partial answer', async () => {
    const { sut, metrics } = build('allow');
    const missing = failed('istiod-b', status.UNAVAILABLE, 'connection refused');
    const { answers, errors } = sut.apply(request(SYNCZ), [ok('istiod-a'), missing]);
    expect(answers.map((a) => a.instance.name)).toEqual(['istiod-a']);
    expect(errors).toEqual([missing]);
    expect(await partialCount(metrics)).toBe(1);
  });
});
