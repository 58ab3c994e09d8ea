import { ReplaySubject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { instance } from '../../../test/kit/xds-fixtures.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { IstiodInstance } from '../discovery/istiod-instance.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { BoundedLabels } from './bounded-labels.js';
import { FanoutMetrics } from './fanout-metrics.js';
import { StrategyRegistry } from './merge/strategy-registry.js';
import { ResponseEnvelope } from './response-envelope.js';

function build() {
  const instances$ = new ReplaySubject<IstiodInstance[]>(1);
  const metrics = new MetricsService();
  const plugins: Record<string, { typeUrl: unknown }> = {
    'example.com/exact': { typeUrl: 'example.com/exact' },
    'example.com/pattern-1': { typeUrl: /^example\.com\/pattern-/ },
  };
  const registry = { resolve: (typeUrl: string) => plugins[typeUrl] ?? { name: 'concatenate' } } as unknown as StrategyRegistry;
  const retained: Array<{ by: string; names: string[] }> = [];
  const spy = (by: string) => ({ retain: (names: ReadonlySet<string>) => retained.push({ by, names: [...names] }) });
  const sut = new BoundedLabels(
    { instances$ } as unknown as DiscoveryService,
    metrics,
    registry,
    spy('metrics') as unknown as FanoutMetrics,
    spy('envelope') as unknown as ResponseEnvelope,
  );
  return { sut, instances$, metrics, retained };
}

describe('BoundedLabels', () => {
  it('labels a type URL a plugin names exactly with itself; patterns and unclaimed ones are "other"', () => {
    const { metrics } = build();
    expect(metrics.typeUrls.label('istio.io/debug/syncz')).toBe('istio.io/debug/syncz');
    expect(metrics.typeUrls.label('example.com/exact')).toBe('example.com/exact');
    expect(metrics.typeUrls.label('example.com/pattern-1')).toBe('other');
    expect(metrics.typeUrls.label('made.up')).toBe('other');
  });

  it('tells the per-instance holders which pods remain on every discovery change, until destroyed', () => {
    const { sut, instances$, retained } = build();
    instances$.next([instance('istiod-a'), instance('istiod-b')]);
    instances$.next([instance('istiod-a')]);
    sut.onModuleDestroy();
    instances$.next([]);
    expect(retained).toEqual([
      { by: 'metrics', names: ['istiod-a', 'istiod-b'] },
      { by: 'envelope', names: ['istiod-a', 'istiod-b'] },
      { by: 'metrics', names: ['istiod-a'] },
      { by: 'envelope', names: ['istiod-a'] },
    ]);
  });
});
