import type { V1TokenReviewStatus } from '@kubernetes/client-node';
import { generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApi } from '../../../test/kit/fake-kube-api.js';
import { ManualClock } from '../../common/clock.js';
import { TokenRejected } from './caller-identity.js';
import { TokenReviewVerifier, type TokenReviewVerifierOptions } from './tokenreview.verifier.js';

const NOW_S = 1_800_000_000;
const SUBJECT = 'system:serviceaccount:ops:sre';
const AUTHENTICATED: V1TokenReviewStatus = { authenticated: true, user: { username: SUBJECT }, audiences: ['istio-ca'] };

/** What the test Kubernetes API answers to TokenReview: a status, or an HTTP error code. */
type Verdict = V1TokenReviewStatus | number;

describe('TokenReviewVerifier', () => {
  let kube: FakeKubeApi;
  let key: CryptoKey;
  let verdict: Verdict;
  let reviewed: { token: string; audiences?: string[] }[];
  let outcomes: string[];
  let cacheHits: number;
  let clock: ManualClock;

  beforeAll(async () => {
    key = (await generateKeyPair('RS256')).privateKey;
    kube = new FakeKubeApi();
    await kube.start();
    kube.route('POST', /^\/apis\/authentication\.k8s\.io\/v1\/tokenreviews$/, (_req, res, body) => {
      const review = JSON.parse(body) as { spec: { token: string; audiences?: string[] } };
      reviewed.push(review.spec);
      if (typeof verdict === 'number') return void res.writeHead(verdict, { 'content-type': 'application/json' }).end('{}');
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: review.spec, status: verdict }));
    });
  });
  afterAll(async () => kube?.stop());
  beforeEach(() => {
    verdict = AUTHENTICATED;
    reviewed = [];
    outcomes = [];
    cacheHits = 0;
    clock = new ManualClock(NOW_S * 1000);
  });

  const verifier = (options: Partial<TokenReviewVerifierOptions> = {}) =>
    new TokenReviewVerifier({
      kubeConfig: kube.kubeConfig(),
      audiences: ['istio-ca'],
      clock,
      onReview: (outcome) => outcomes.push(outcome),
      onCacheHit: () => cacheHits++,
      ...options,
    });
  /** Only the unverified claims matter to the verifier; the API server's verdict is the check. */
  const token = (claims: JWTPayload = {}) =>
    new SignJWT({ sub: SUBJECT, iat: NOW_S, exp: NOW_S + 600, ...claims }).setProtectedHeader({ alg: 'RS256' }).sign(key);

  it('asks the API server about the token for the configured audiences and returns the reviewed identity', async () => {
    const jwt = await token();
    await expect(verifier().verify(jwt)).resolves.toEqual({
      subject: SUBJECT,
      namespace: 'ops',
      serviceAccount: 'sre',
      expiresAtMs: (NOW_S + 600) * 1000,
    });
    expect(reviewed).toEqual([{ token: jwt, audiences: ['istio-ca'] }]);
    expect(outcomes).toEqual(['authenticated']);
  });

  it('makes one review for concurrent and repeated calls with one token', async () => {
    const sut = verifier();
    const jwt = await token();
    await Promise.all(Array.from({ length: 5 }, () => sut.verify(jwt)));
    await sut.verify(jwt);
    expect(reviewed).toHaveLength(1);
    expect(cacheHits).toBe(5);
  });

  it('serves a cached identity until the token expires on the clock', async () => {
    const sut = verifier();
    const jwt = await token({ exp: NOW_S + 120 });
    await sut.verify(jwt);
    clock.advance(119_000);
    await expect(sut.verify(jwt)).resolves.toMatchObject({ subject: SUBJECT });
    clock.advance(1_000);
    await expect(sut.verify(jwt)).rejects.toEqual(new TokenRejected('token expired'));
    expect(reviewed).toHaveLength(1);
  });

  it('caches a token without exp for defaultTtlMs, then reviews it again', async () => {
    const sut = verifier({ defaultTtlMs: 30_000 });
    const jwt = await token({ exp: undefined });
    await sut.verify(jwt);
    clock.advance(29_999);
    await sut.verify(jwt);
    expect(reviewed).toHaveLength(1);
    clock.advance(1);
    await sut.verify(jwt);
    expect(reviewed).toHaveLength(2);
  });

  it('evicts expired reviews before live ones when the cache is full', async () => {
    const sut = verifier({ maxCacheEntries: 2 });
    const [long, short, next] = await Promise.all([token({ jti: 'long' }), token({ exp: NOW_S + 10 }), token({ jti: 'next' })]);
    for (const jwt of [long, short]) await sut.verify(jwt);
    clock.advance(10_000);
    await sut.verify(next); // full: the expired (newer) review goes, not the oldest
    await sut.verify(long);
    expect(reviewed.map((review) => review.token)).toEqual([long, short, next]);
  });

  it.each<[string, JWTPayload | string, string]>([
    ['not a JWT', 'not-a-jwt', 'malformed token: not a JWT'],
    ['expired on the clock', { exp: NOW_S }, 'token expired'],
    ['valid only in over a minute', { nbf: NOW_S + 61 }, 'token not yet valid'],
  ])('rejects a token %s without a review', async (_, claims, reason) => {
    const jwt = typeof claims === 'string' ? claims : await token(claims);
    await expect(verifier().verify(jwt)).rejects.toEqual(new TokenRejected(reason));
    expect(reviewed).toEqual([]);
  });

  it('tolerates a minute of clock skew on nbf', async () => {
    await expect(verifier().verify(await token({ nbf: NOW_S + 60 }))).resolves.toMatchObject({ subject: SUBJECT });
  });

  it('reports the API server verdict on a rejected token, and does not cache it', async () => {
    verdict = { authenticated: false, error: 'token has been invalidated' };
    const sut = verifier();
    const jwt = await token();
    const rejected = new TokenRejected('token rejected by the Kubernetes API: token has been invalidated');
    await expect(sut.verify(jwt)).rejects.toEqual(rejected);
    await expect(sut.verify(jwt)).rejects.toEqual(rejected);
    expect(reviewed).toHaveLength(2);
    expect(outcomes).toEqual(['rejected', 'rejected']);
  });

  it('rejects a token the API server authenticated for other audiences only', async () => {
    verdict = { ...AUTHENTICATED, audiences: ['vault'] };
    await expect(verifier().verify(await token())).rejects.toEqual(
      new TokenRejected('token audience not accepted (expected one of: istio-ca)'),
    );
    expect(outcomes).toEqual(['rejected']);
  });

  it('reports a failing TokenReview call with its status code', async () => {
    verdict = 500;
    await expect(verifier().verify(await token())).rejects.toEqual(
      new TokenRejected('token could not be verified: TokenReview failed (500)'),
    );
    expect(outcomes).toEqual(['error']);
  });
});
