import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { Subject } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { ADS_SERVICE } from '../../common/proto.js';
import { instance } from '../../../test/kit/xds-fixtures.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { IstiodInstance } from '../discovery/istiod-instance.js';
import { LifecycleService } from '../lifecycle/lifecycle.service.js';
import { GrpcHealthService } from './grpc-health.service.js';
import { ReadinessService } from './readiness.service.js';

function build() {
  const health = new HealthImplementation();
  const statuses = new Map<string, ServingStatus>();
  vi.spyOn(health, 'setStatus').mockImplementation((service, status) => void statuses.set(service, status));
  const state = { ready: false };
  const readiness: Pick<ReadinessService, 'isReady'> = { isReady: () => state.ready };
  const instances$ = new Subject<IstiodInstance[]>();
  const discovery: Pick<DiscoveryService, 'instances$'> = { instances$ };
  const lifecycle = new LifecycleService();
  const sut = new GrpcHealthService(health, readiness as ReadinessService, discovery as DiscoveryService, lifecycle);
  return { sut, statuses, readiness: state, instances$, lifecycle };
}

describe('GrpcHealthService', () => {
  it('reports NOT_SERVING for the server and ADS until ready, then SERVING when discovery brings instances', () => {
    const { sut, statuses, readiness, instances$ } = build();

    sut.onApplicationBootstrap();
    expect(Object.fromEntries(statuses)).toEqual({ '': 'NOT_SERVING', [ADS_SERVICE]: 'NOT_SERVING' });

    readiness.ready = true;
    instances$.next([instance('istiod-a')]);
    expect(Object.fromEntries(statuses)).toEqual({ '': 'SERVING', [ADS_SERVICE]: 'SERVING' });
  });

  it('turns NOT_SERVING as soon as shutdown begins', () => {
    const { sut, statuses, readiness, lifecycle } = build();
    readiness.ready = true;
    sut.onApplicationBootstrap();

    readiness.ready = false;
    lifecycle.beginShutdown();

    expect(statuses.get(ADS_SERVICE)).toBe('NOT_SERVING');
  });

  it('stops following readiness once destroyed', () => {
    const { sut, statuses, readiness, instances$ } = build();
    sut.onApplicationBootstrap();
    sut.onModuleDestroy();

    readiness.ready = true;
    instances$.next([instance('istiod-a')]);

    expect(statuses.get('')).toBe('NOT_SERVING');
  });
});
