import { Metadata, status } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { NEVER, Observable, firstValueFrom, of, throwError } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../common/clock.js';
import { AppConfig } from '../../config/app-config.js';
import { loadConfig } from '../../config/load-config.js';
import { DiscoveryRequest, DiscoveryResponse } from '../../common/xds-types.js';
import { clientConfigAny, identifier, instance, request, response } from '../../../test/kit/xds-fixtures.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { InstanceSource } from '../discovery/instance-source.js';
import { IstiodInstance } from '../discovery/istiod-instance.js';
import { AggregationService } from './aggregation.service.js';
import { AnswerMemory } from './answer-memory.js';
import { DeadlineBudget } from './deadline-budget.js';
import { FanoutMetrics } from './fanout-metrics.js';
import { FanoutService } from './fanout.service.js';
import { UpstreamCaller } from './istiod.client.js';
import { InstanceHealth } from './instance-health.js';
import { ResponseEnvelope } from './response-envelope.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { StrategyRegistry } from './merge/strategy-registry.js';
import { SynczStrategy } from './merge/syncz.strategy.js';
import { PartialResultPolicy } from './partial-result.policy.js';
import { RequestCoalescing } from './request-coalescing.js';

const SYNCZ = 'istio.io/debug/syncz';

class FixedSource extends InstanceSource {
  constructor(readonly instances$: Observable<IstiodInstance[]>) {
    super();
  }
  describe(): string {
    return 'namespace istio-system (selector app=istiod)';
  }
}

class ScriptedCaller extends UpstreamCaller {
  readonly seen: Array<{ name: string; metadata: Metadata; request: DiscoveryRequest }> = [];
  constructor(private readonly answers: Record<string, () => Observable<DiscoveryResponse>>) {
    super();
  }
  ask(target: IstiodInstance, req: DiscoveryRequest, metadata: Metadata): Observable<DiscoveryResponse> {
    this.seen.push({ name: target.name, metadata, request: req });
    return this.answers[target.name]();
  }
}

function build(answers: Record<string, () => Observable<DiscoveryResponse>>, env: Record<string, string> = {}) {
  const config: AppConfig = loadConfig({
    PLAINTEXT: 'true',
    DISCOVERY: 'static',
    ISTIOD_ADDRESSES: 'x=1.2.3.4:1',
    UPSTREAM_INSECURE: 'true',
    ...env,
  });
  const names = Object.keys(answers);
  const discovery = new DiscoveryService(new FixedSource(of(names.map((n) => instance(n)))));
  const caller = new ScriptedCaller(answers);
  const registry = new StrategyRegistry({ getProviders: () => [] } as never, config);
  registry.register([{ typeUrl: SYNCZ, strategy: new SynczStrategy() }]);
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const metrics = new MetricsService();
  const answerMemory = new AnswerMemory(config, metrics);
  const sut = new AggregationService(
    discovery,
    new FanoutService(caller, clock),
    registry,
    new RequestCoalescing(config, clock, metrics),
    new DeadlineBudget(config, clock),
    new PartialResultPolicy(config, metrics),
    new FanoutMetrics(metrics, new InstanceHealth(clock)),
    new ResponseEnvelope(config),
    answerMemory,
  );
  return { sut, caller, clock };
}

const ok =
  (id: string, version = '1.27.3') =>
  () =>
    of(response(SYNCZ, [clientConfigAny(`${id}.ns`, new Date())], identifier(id, version)));
const fail = (code: number, details: string) => () => throwError(() => ({ code, details }));
const caller = { metadata: new Metadata() };
const node = request(SYNCZ).node!;

function identifierOf(merged: DiscoveryResponse): { ID: string; Info: { version?: string } } {
  return JSON.parse(merged.control_plane!.identifier) as { ID: string; Info: { version?: string } };
}

async function rejection(promise: Promise<unknown>): Promise<{ code: number; message: string; metadata?: Metadata }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RpcException);
  return (err as RpcException).getError() as { code: number; message: string; metadata?: Metadata };
}

Logger.overrideLogger(false); // the warnings under test would only add noise to the test output

describe('AggregationService', () => {
  afterEach(() => vi.useRealTimers());

  it('merges every answer and sets the envelope: fresh nonce, request type, <external> control plane', async () => {
    const { sut } = build({ 'istiod-a': ok('a'), 'istiod-b': ok('b') });
    const { response: merged, missing } = await firstValueFrom(sut.aggregate(request(SYNCZ), node, caller));
    expect(merged.resources).toHaveLength(2);
    expect(merged.type_url).toBe(SYNCZ);
    expect(merged.nonce).toMatch(/^[0-9a-f-]{36}$/);
    expect(identifierOf(merged).ID).toBe('<external>');
    expect(missing).toEqual([]);
  });

  it('forwards only authorization and clusterid metadata, and the stream node', async () => {
    const { sut, caller: scripted } = build({ 'istiod-a': ok('a') });
    const metadata = new Metadata();
    metadata.set('authorization', 'Bearer t');
    metadata.set('clusterid', 'remote');
    metadata.set('x-other', 'nope');
    await firstValueFrom(sut.aggregate(request(SYNCZ), node, { metadata }));
    expect(scripted.seen[0].metadata.getMap()).toEqual({ authorization: 'Bearer t', clusterid: 'remote' });
    expect(scripted.seen[0].request.node).toBe(node);
  });

  it('PARTIAL_RESULTS=allow answers with the others and reports the missing instance', async () => {
    const { sut } = build({ 'istiod-a': ok('a'), 'istiod-b': fail(status.UNAVAILABLE, 'connection refused') });
    const { response: merged, missing } = await firstValueFrom(sut.aggregate(request(SYNCZ), node, caller));
    expect(merged.resources).toHaveLength(1);
    expect(missing.map((m) => [m.instance.name, m.error.reason])).toEqual([['istiod-b', 'unavailable']]);
  });

  it('fails the request when the partial-result policy refuses (every istiod failed)', async () => {
    const { sut } = build({
      'istiod-a': fail(status.PERMISSION_DENIED, 'authorization failed: no identities'),
      'istiod-b': fail(status.UNAVAILABLE, 'connection refused'),
    });
    const error = await rejection(firstValueFrom(sut.aggregate(request(SYNCZ), node, caller)));
    expect(error.code).toBe(status.PERMISSION_DENIED);
    expect(error.metadata?.get('x-istioctl-proxy-missing')).toEqual(['istiod-a,istiod-b']);
  });

  it('no instances: UNAVAILABLE naming the discovery scope', async () => {
    const { sut } = build({});
    const error = await rejection(firstValueFrom(sut.aggregate(request(SYNCZ), node, caller)));
    expect(error).toMatchObject({
      code: status.UNAVAILABLE,
      message: 'no istiod instances discovered in namespace istio-system (selector app=istiod)',
    });
  });

  it('gives each istiod the deadline budget: the caller deadline minus the margin when sooner', async () => {
    vi.useFakeTimers();
    const { sut, clock } = build(
      { 'istiod-a': () => NEVER, 'istiod-b': ok('b') },
      { FANOUT_TIMEOUT_MS: '10000', DEADLINE_MARGIN_MS: '250' },
    );
    const deadline = new Date(clock.now() + 2000);
    const result = firstValueFrom(sut.aggregate(request(SYNCZ), node, { metadata: new Metadata(), deadline }));
    await vi.advanceTimersByTimeAsync(1750);
    const { missing } = await result;
    expect(missing[0].error.message).toBe('no answer within 1750 ms');
  });

  it('coalesces identical concurrent requests into one fan-out, each answer with its own nonce', async () => {
    const { sut, caller: scripted } = build({ 'istiod-a': ok('a') });
    const [first, second] = await Promise.all([
      firstValueFrom(sut.aggregate(request(SYNCZ), node, caller)),
      firstValueFrom(sut.aggregate(request(SYNCZ), node, caller)),
    ]);
    expect(scripted.seen).toHaveLength(1);
    expect([first.coalesced, second.coalesced]).toEqual([false, true]);
    expect(second.response.nonce).not.toBe(first.response.nonce);
  });

  it('mixed istiod versions are joined in the control plane identifier', async () => {
    const { sut } = build({ 'istiod-a': ok('a', '1.27.3'), 'istiod-b': ok('b', '1.26.1') });
    const { response: merged } = await firstValueFrom(sut.aggregate(request(SYNCZ), node, caller));
    expect(identifierOf(merged).Info.version).toBe('1.26.1,1.27.3');
  });
});
