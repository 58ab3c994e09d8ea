import type { V1TokenReviewStatus } from '@kubernetes/client-node';
import { generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApi } from '../../../test/kit/fake-kube-api.js';
import { ManualClock } from '../../common/clock.js';
import { TokenRejected, TokenUnverifiable, VerifierUnavailable } from './caller-identity.js';
import { TokenReviewVerifier, type TokenReviewVerifierOptions } from './tokenreview.verifier.js';

const NOW_S = 1_800_000_000;
const SUBJECT = 'system:serviceaccount:ops:sre';
const AUTHENTICATED: V1TokenReviewStatus = { authenticated: true, user: { username: SUBJECT }, audiences: ['istio-ca'] };

/** What the test Kubernetes API answers to TokenReview: a status, an HTTP error code, or nothing ever. */
type Verdict = V1TokenReviewStatus | number | 'hang';

describe('TokenReviewVerifier', () => {
  let kube: FakeKubeApi;
  let key: CryptoKey;
  let verdict: Verdict;
  let reviewed: { token: string; audiences?: string[] }[];
  let outcomes: string[];
  let cacheHits: number;
  let clock: ManualClock;
  /** TokenReview requests the test API has received and not yet seen closed. */
  let open: number;

  beforeAll(async () => {
    key = (await generateKeyPair('RS256')).privateKey;
    kube = new FakeKubeApi();
    await kube.start();
    kube.route('POST', /^\/apis\/authentication\.k8s\.io\/v1\/tokenreviews$/, (_req, res, body) => {
      const review = JSON.parse(body) as { spec: { token: string; audiences?: string[] } };
      reviewed.push(review.spec);
      open++;
      res.on('close', () => open--);
      if (verdict === 'hang') return;
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
    open = 0;
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

  it('reports the API server verdict on a rejected token, and remembers it for rejectCacheMs', async () => {
    verdict = { authenticated: false, error: 'token has been invalidated' };
    const sut = verifier({ rejectCacheMs: 10_000 });
    const jwt = await token();
    const rejected = new TokenRejected('token rejected by the Kubernetes API: token has been invalidated');
    await expect(sut.verify(jwt)).rejects.toEqual(rejected);
    clock.advance(9_999);
    await expect(sut.verify(jwt)).rejects.toEqual(rejected);
    expect(reviewed).toHaveLength(1);
    expect(cacheHits).toBe(1);
    clock.advance(1);
    await expect(sut.verify(jwt)).rejects.toEqual(rejected);
    expect(reviewed).toHaveLength(2);
    expect(outcomes).toEqual(['rejected', 'rejected']);
  });

  it('remembers no rejection with rejectCacheMs 0', async () => {
    verdict = { authenticated: false };
    const sut = verifier({ rejectCacheMs: 0 });
    const jwt = await token();
    for (let i = 0; i < 3; i++) await expect(sut.verify(jwt)).rejects.toBeInstanceOf(TokenRejected);
    expect(reviewed).toHaveLength(3);
  });

  it('remembers at most maxRejectCacheEntries rejected tokens, forgetting the oldest first', async () => {
    verdict = { authenticated: false };
    const sut = verifier({ maxRejectCacheEntries: 3 });
    const jwts = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((jti) => token({ jti })));
    for (const jwt of jwts) await expect(sut.verify(jwt)).rejects.toBeInstanceOf(TokenRejected);
    expect(reviewed).toHaveLength(5);
    for (const jwt of jwts.slice(2)) await expect(sut.verify(jwt)).rejects.toBeInstanceOf(TokenRejected); // c, d, e: remembered
    expect(reviewed).toHaveLength(5);
    await expect(sut.verify(jwts[0])).rejects.toBeInstanceOf(TokenRejected); // a: crowded out, asked again
    expect(reviewed).toHaveLength(6);
  });

  it.each<[string, V1TokenReviewStatus, string]>([
    [
      'for other audiences only',
      { ...AUTHENTICATED, audiences: ['vault'] },
      'token audience not accepted: the Kubernetes API authenticated it for vault only (expected one of: istio-ca)',
    ],
    [
      'without naming an audience (not audience-aware: valid for the API server only)',
      { ...AUTHENTICATED, audiences: [] },
      'token audience not accepted: the Kubernetes API authenticated it without confirming an audience ' +
        '(empty status.audiences: valid for the API server only) (expected one of: istio-ca)',
    ],
    [
      'with no status.audiences at all',
      { authenticated: true, user: { username: SUBJECT } },
      'token audience not accepted: the Kubernetes API authenticated it without confirming an audience ' +
        '(empty status.audiences: valid for the API server only) (expected one of: istio-ca)',
    ],
  ])('refuses a token the API server authenticated %s', async (_, status, reason) => {
    verdict = status;
    await expect(verifier().verify(await token())).rejects.toEqual(new TokenRejected(reason));
    expect(outcomes).toEqual(['rejected']);
  });

  it('reports a failing TokenReview call with its status code, and asks again next time', async () => {
    verdict = 500;
    const sut = verifier();
    const jwt = await token();
    const failed = new TokenUnverifiable('token could not be verified: TokenReview failed (500)');
    await expect(sut.verify(jwt)).rejects.toEqual(failed);
    await expect(sut.verify(jwt)).rejects.toEqual(failed);
    expect(outcomes).toEqual(['error', 'error']);
  });

  it('gives up on a TokenReview that does not answer within timeoutMs, closing the request, and asks again next time', async () => {
    verdict = 'hang';
    const sut = verifier({ timeoutMs: 150 });
    const jwt = await token();
    const started = performance.now();
    await expect(sut.verify(jwt)).rejects.toEqual(
      new VerifierUnavailable(`TokenReview at ${kube.url} did not answer within 150 ms (TOKENREVIEW_TIMEOUT_MS)`),
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(outcomes).toEqual(['timeout']);
    await expect.poll(() => open).toBe(0); // the test API saw the request closed: no socket left behind
    verdict = AUTHENTICATED;
    await expect(sut.verify(jwt)).resolves.toMatchObject({ subject: SUBJECT });
    expect(reviewed).toHaveLength(2);
  });
});
