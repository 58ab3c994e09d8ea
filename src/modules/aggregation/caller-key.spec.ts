import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { callerKey } from './caller-key.js';

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

  it('keeps callers of different clusters apart', () => {
    const east = callerKey({ metadata: metadata({ clusterid: 'east' }) });
    const west = callerKey({ metadata: metadata({ clusterid: 'west' }) });
    expect(east).not.toEqual(west);
  });
});
