import { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isReadyIstiod } from './pod-readiness.js';

function pod(overrides: { phase?: string; ip?: string; ready?: string; deleting?: boolean } = {}): V1Pod {
  const { phase = 'Running', ip = '10.0.0.5', ready = 'True', deleting = false } = overrides;
  return {
    metadata: { name: 'istiod-1', ...(deleting ? { deletionTimestamp: new Date() } : {}) },
    status: { phase, podIP: ip || undefined, conditions: [{ type: 'Ready', status: ready }] },
  };
}

describe('isReadyIstiod', () => {
  it('accepts a Running, Ready pod with an IP', () => expect(isReadyIstiod(pod())).toBe(true));
  it('rejects a Pending pod', () => expect(isReadyIstiod(pod({ phase: 'Pending' }))).toBe(false));
  it('rejects a pod without IP', () => expect(isReadyIstiod(pod({ ip: '' }))).toBe(false));
  it('rejects a not-Ready pod', () => expect(isReadyIstiod(pod({ ready: 'False' }))).toBe(false));
  it('rejects a Terminating pod (istio/istio#26300)', () => expect(isReadyIstiod(pod({ deleting: true }))).toBe(false));
});
