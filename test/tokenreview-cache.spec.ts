import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock, ManualClock, SystemClock } from '../src/common/clock.js';
import { TokenRejected } from '../src/modules/auth/caller-identity.js';
import { TokenReviewVerifier } from '../src/modules/auth/tokenreview.verifier.js';
import { createTokenIssuer, type TokenIssuer } from './kit/test-tokens.js';
import { FakeKubeApi } from './kit/fake-kube-api.js';
import { serveTokenIssuer, type ReviewCounter } from './kit/issuer-routes.js';

describe('TokenReviewVerifier against a test Kubernetes API', () => {
  let kube: FakeKubeApi;
  let tokens: TokenIssuer;
  let reviews: ReviewCounter;

  beforeAll(async () => {
    kube = new FakeKubeApi();
    await kube.start();
    tokens = await createTokenIssuer();
    reviews = serveTokenIssuer(kube, tokens);
  });
  afterAll(async () => kube?.stop());

  const verifier = (options: { maxCacheEntries?: number; clock?: Clock } = {}) =>
    new TokenReviewVerifier({ kubeConfig: kube.kubeConfig(), audiences: ['istio-ca'], clock: new SystemClock(), ...options });

  it('returns the reviewed identity and caches it, keyed by the token', async () => {
    const sut = verifier();
    const token = await tokens.mint({ namespace: 'ops', serviceAccount: 'sre' });
    const before = reviews.count;
    const identities = await Promise.all(Array.from({ length: 5 }, () => sut.verify(token)));
    await sut.verify(token);
    expect(identities[0]).toMatchObject({ subject: 'system:serviceaccount:ops:sre', namespace: 'ops', serviceAccount: 'sre' });
    expect(reviews.count - before).toBe(1);
  });

  it('keeps at most maxCacheEntries reviews, evicting the oldest', async () => {
    const sut = verifier({ maxCacheEntries: 2 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((sa) => tokens.mint({ namespace: 'ops', serviceAccount: sa })));
    const before = reviews.count;
    for (const token of [a, b, c]) await sut.verify(token);
    await sut.verify(c); // cached
    await sut.verify(b); // cached
    await sut.verify(a); // evicted: reviewed again
    expect(reviews.count - before).toBe(4);
  });

  it('stops serving a cached identity once the token has expired', async () => {
    const clock = new ManualClock(Date.now());
    const sut = verifier({ clock });
    const token = await tokens.mint({ namespace: 'ops', serviceAccount: 'short', expiresInSeconds: 60 });
    await sut.verify(token);
    clock.advance(61_000);
    await expect(sut.verify(token)).rejects.toEqual(new TokenRejected('token expired'));
  });

  it('rejects without a review what cannot be valid (malformed, expired)', async () => {
    const sut = verifier();
    const before = reviews.count;
    await expect(sut.verify('not-a-jwt')).rejects.toThrow('malformed token');
    await expect(sut.verify(await tokens.mint({ namespace: 'ops', serviceAccount: 'x', expiresInSeconds: -5 }))).rejects.toThrow(
      'token expired',
    );
    expect(reviews.count).toBe(before);
  });

  it('reports the API server verdict for a token it rejects', async () => {
    const foreign = await (await createTokenIssuer()).mint({ namespace: 'ops', serviceAccount: 'x' });
    await expect(verifier().verify(foreign)).rejects.toThrow(/token rejected by the Kubernetes API/);
  });
});
