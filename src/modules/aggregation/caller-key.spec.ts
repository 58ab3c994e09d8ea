import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { callerKey, limitKey } from './caller-key.js';

function metadata(entries: Record<string, string>): Metadata {
  const result = new Metadata();
  for (const [key, value] of Object.entries(entries)) result.set(key, value);
  return result;
}

describe('callerKey', () => {
  it('is the verified subject plus the cluster id when auth ran', () => {
    const sut = callerKey({ metadata: metadata({ authorization: 'Bearer t1', clusterid: 'east' }), identity: { subject: 'alice' } });
    expect(sut).toEqual(['alice', 'east']);
  });

  it('ignores the token for a verified caller, so one subject shares across token refreshes', () => {
    const identity = { subject: 'alice' };
    expect(callerKey({ metadata: metadata({ authorization: 'Bearer old' }), identity })).toEqual(
      callerKey({ metadata: metadata({ authorization: 'Bearer new' }), identity }),
    );
  });

  it('hashes the token when the caller is unverified (AUTH_MODE=none), never exposing it', () => {
    const unverified = { subject: 'unverified' };
    const a = callerKey({ metadata: metadata({ authorization: 'Bearer secret-a' }), identity: unverified });
    const b = callerKey({ metadata: metadata({ authorization: 'Bearer secret-b' }) });
    expect(a).toHaveLength(1);
    expect(a[0]).not.toContain('secret');
    expect(a).not.toEqual(b);
  });

  it('keeps one subject of two clusters apart by the cluster that accepted its token', () => {
    const subject = 'system:serviceaccount:istio-system:default';
    const east = callerKey({ metadata: metadata({}), identity: { subject, clusterId: 'east' } });
    const west = callerKey({ metadata: metadata({}), identity: { subject, clusterId: 'west' } });
    expect(east).toEqual([subject, 'east']);
    expect(west).toEqual([subject, 'west']);
  });

  it('keeps callers of different clusters apart', () => {
    const east = callerKey({ metadata: metadata({ clusterid: 'east' }) });
    const west = callerKey({ metadata: metadata({ clusterid: 'west' }) });
    expect(east).not.toEqual(west);
  });
});

describe('limitKey', () => {
  it('is the verified subject, of its issuing cluster when known', () => {
    expect(limitKey({ subject: 'alice' }, metadata({ authorization: 'Bearer t' }))).toBe('alice');
    expect(limitKey({ subject: 'alice', clusterId: 'east' }, metadata({}))).toBe('alice of cluster east');
  });

  it('with AUTH_MODE=none, hashes the token: distinct tokens are distinct callers, and the token never shows', () => {
    const unverified = { subject: 'unverified' };
    const a = limitKey(unverified, metadata({ authorization: 'Bearer secret-a' }));
    const b = limitKey(unverified, metadata({ authorization: 'Bearer secret-b' }));
    expect(a).not.toBe(b);
    expect(a).toBe(limitKey(undefined, metadata({ authorization: 'Bearer secret-a' })));
    expect(a).toMatch(/^unverified token [\w-]{16}$/);
    expect(a).not.toContain('secret');
  });
});
