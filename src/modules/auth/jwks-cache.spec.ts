import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALG, KID, NOW_S, SUBJECT } from '../../../test/kit/jwks-fixtures.js';
import { ManualClock } from '../../common/clock.js';
import { TokenRejected, tokenHash } from './caller-identity.js';
import { JwksVerifier, type JwksVerifierOptions } from './jwks.verifier.js';

describe('JwksVerifier cache (JWT_CACHE_MS, TOKEN_CACHE_SIZE)', () => {
  const TTL_MS = 60_000;
  let pair: { publicKey: CryptoKey; privateKey: CryptoKey };
  let rotated: { publicKey: CryptoKey; privateKey: CryptoKey };
  let jwks: { keys: JWK[] };
  let server: Server;
  let url: string;
  /** What the issuer serves now; a spec rotates it. */
  let served: { keys: JWK[] };
  let fetches = 0;

  beforeAll(async () => {
    pair = await generateKeyPair(ALG, { extractable: true });
    rotated = await generateKeyPair(ALG, { extractable: true });
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: KID, alg: ALG, use: 'sig' }] };
    server = createServer((req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(served));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
  });
  afterAll(() => new Promise<void>((resolve) => server?.close(() => resolve())));

  /** A real local key set behind a getter that counts jose's calls: every verification asks it once. */
  function countedKeys() {
    const local = createLocalJWKSet(jwks);
    const counter = { calls: 0 };
    const keys: JWTVerifyGetKey = (header, token) => {
      counter.calls++;
      return local(header, token);
    };
    return { keys, counter };
  }

  function cachedVerifier(options: Partial<JwksVerifierOptions> = {}) {
    const clock = new ManualClock(NOW_S * 1000);
    const { keys, counter } = countedKeys();
    const hits = { count: 0 };
    const sut = new JwksVerifier({
      audiences: ['istio-ca'],
      keys,
      clock,
      cacheTtlMs: TTL_MS,
      onCacheHit: () => hits.count++,
      ...options,
    });
    return { sut, clock, counter, hits };
  }

  const sign = (claims: JWTPayload = {}, key: CryptoKey = pair.privateKey, kid = KID) =>
    new SignJWT({ sub: SUBJECT, aud: ['istio-ca'], iat: NOW_S, exp: NOW_S + 3600, ...claims })
      .setProtectedHeader({ alg: ALG, kid })
      .sign(key);

  it('answers the same token again from the cache: jose is not asked, the identity is the same', async () => {
    const { sut, counter, hits } = cachedVerifier();
    const token = await sign();
    const first = await sut.verify(token);
    for (let i = 0; i < 5; i++) expect(await sut.verify(token)).toBe(first);
    expect(counter.calls).toBe(1);
    expect(hits.count).toBe(5);
    await sut.verify(await sign({ sub: 'system:serviceaccount:ops:other' }));
    expect(counter.calls).toBe(2);
  });

  it('keys the cache by the SHA-256 of the token, never the token', async () => {
    const { sut } = cachedVerifier();
    const token = await sign();
    await sut.verify(token);
    const keys = [...(sut as unknown as { cache: Map<string, unknown> }).cache.keys()];
    expect(keys).toEqual([tokenHash(token)]);
    expect(keys[0]).not.toContain(token.split('.')[2]);
  });

  it('verifies every call with JWT_CACHE_MS=0', async () => {
    const { sut, counter } = cachedVerifier({ cacheTtlMs: 0 });
    const token = await sign();
    for (let i = 0; i < 3; i++) await sut.verify(token);
    expect(counter.calls).toBe(3);
    expect(sut.cacheSize).toBe(0);
  });

  it('shares one verification between concurrent calls with the same token', async () => {
    const { sut, counter, hits } = cachedVerifier();
    const token = await sign();
    const identities = await Promise.all(Array.from({ length: 10 }, () => sut.verify(token)));
    expect(new Set(identities).size).toBe(1);
    expect(counter.calls).toBe(1);
    expect(hits.count).toBe(9);
  });

  it('reuses a verification for JWT_CACHE_MS, then asks jose again (injected clock)', async () => {
    const { sut, clock, counter } = cachedVerifier();
    const token = await sign();
    await sut.verify(token);
    clock.advance(TTL_MS - 1);
    await sut.verify(token);
    expect(counter.calls).toBe(1);
    clock.advance(1);
    await sut.verify(token);
    expect(counter.calls).toBe(2);
    clock.advance(TTL_MS - 1); // the new verification started a new lifetime
    await sut.verify(token);
    expect(counter.calls).toBe(2);
  });

  it('never reuses a verification past the token’s exp, and lets jose refuse it after the skew', async () => {
    const { sut, clock, counter } = cachedVerifier();
    const token = await sign({ exp: NOW_S + 30 });
    await sut.verify(token);
    clock.advance(29_999);
    await sut.verify(token);
    expect(counter.calls).toBe(1);
    clock.advance(1); // at exp: jose decides (and still accepts, within the 60 s skew), nothing is cached
    await expect(sut.verify(token)).resolves.toMatchObject({ subject: SUBJECT });
    await expect(sut.verify(token)).resolves.toMatchObject({ subject: SUBJECT });
    expect(counter.calls).toBe(3);
    clock.advance(61_000);
    await expect(sut.verify(token)).rejects.toEqual(new TokenRejected('token expired'));
  });

  it('verifies again when the clock went back before the cached verification', async () => {
    const { sut, clock, counter } = cachedVerifier();
    const token = await sign();
    await sut.verify(token);
    clock.advance(-1_000);
    await sut.verify(token);
    expect(counter.calls).toBe(2);
  });

  it('does not remember rejections', async () => {
    const { sut, counter } = cachedVerifier();
    const token = await sign({ aud: 'vault' });
    for (let i = 0; i < 2; i++) await expect(sut.verify(token)).rejects.toBeInstanceOf(TokenRejected);
    expect(counter.calls).toBe(2);
    expect(sut.cacheSize).toBe(0);
  });

  it('holds at most TOKEN_CACHE_SIZE verifications, the oldest going first', async () => {
    const max = 5;
    const { sut, counter } = cachedVerifier({ maxCacheEntries: max });
    const tokens = await Promise.all(Array.from({ length: max + 7 }, (_, i) => sign({ sub: `system:serviceaccount:ops:sa-${i}` })));
    for (const token of tokens) {
      await sut.verify(token);
      expect(sut.cacheSize).toBeLessThanOrEqual(max);
    }
    expect(sut.cacheSize).toBe(max);
    expect(counter.calls).toBe(max + 7);
    for (const token of tokens.slice(-max)) await sut.verify(token); // the newest are still there
    expect(counter.calls).toBe(max + 7);
    await sut.verify(tokens[0]); // the oldest was crowded out
    expect(counter.calls).toBe(max + 8);
  });

  it('stops accepting a token whose key left the remote set within JWT_CACHE_MS of jose seeing it gone', async () => {
    served = jwks;
    const clock = new ManualClock(NOW_S * 1000);
    // jose refetches on every call here, so what remains is this cache's own lifetime.
    const sut = new JwksVerifier({
      audiences: ['istio-ca'],
      jwksUri: url,
      clock,
      cacheTtlMs: TTL_MS,
      remoteJwks: { cacheMaxAge: 0, cooldownDuration: 0 },
    });
    const oldToken = await sign();
    await expect(sut.verify(oldToken)).resolves.toMatchObject({ subject: SUBJECT });
    served = { keys: [{ ...(await exportJWK(rotated.publicKey)), kid: 'rotated', alg: ALG, use: 'sig' }] };
    const before = fetches;
    await expect(sut.verify(oldToken)).resolves.toMatchObject({ subject: SUBJECT }); // cached: no fetch
    expect(fetches).toBe(before);
    await expect(sut.verify(await sign({}, rotated.privateKey, 'rotated'))).resolves.toMatchObject({ subject: SUBJECT });
    clock.advance(TTL_MS);
    await expect(sut.verify(oldToken)).rejects.toEqual(new TokenRejected('token signed by an unknown key'));
  });
});
