import { Metadata } from '@grpc/grpc-js';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKubeApi } from '../../../test/kit/fake-kube-api.js';
import { inMemoryTracingBackend } from '../../../test/kit/in-memory-tracing.js';
import { ManualClock } from '../../common/clock.js';
import { TokenReviewVerifier } from '../auth/tokenreview.verifier.js';
import { ATTR } from './span-attributes.js';
import { Tracing } from './tracing.js';

const NOW_S = 1_800_000_000;
const SUBJECT = 'system:serviceaccount:istio-system:default';

// The verification span's `cached` comes from deep inside the real verifier (its onCacheHit, wired
// like token-verifier.provider.ts does), through the async context of the guard's verification.
describe('Tracing with the real TokenReviewVerifier', () => {
  const kube = new FakeKubeApi();

  beforeAll(async () => {
    await kube.start();
    kube.route('POST', /^\/apis\/authentication\.k8s\.io\/v1\/tokenreviews$/, (_req, res, body) => {
      const review = JSON.parse(body) as { spec: object };
      const status = { authenticated: true, user: { username: SUBJECT }, audiences: ['istio-ca'] };
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: review.spec, status }));
    });
  });
  afterAll(async () => kube.stop());

  it('marks the second verification of a token as cached, and only that one', async () => {
    const { backend, exporter } = inMemoryTracingBackend();
    const sut = new Tracing(backend);
    const verifier = new TokenReviewVerifier({
      kubeConfig: kube.kubeConfig(),
      audiences: ['istio-ca'],
      clock: new ManualClock(NOW_S * 1000),
      onCacheHit: () => sut.markVerificationCached(),
    });
    const key = (await generateKeyPair('RS256')).privateKey;
    const token = await new SignJWT({ sub: SUBJECT, iat: NOW_S, exp: NOW_S + 600 }).setProtectedHeader({ alg: 'RS256' }).sign(key);

    for (let i = 0; i < 2; i++) await sut.traceVerification(new Metadata(), verifier.mode, () => verifier.verify(token));

    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.attributes[ATTR.cached])).toEqual([false, true]);
    expect(spans.map((span) => span.attributes[ATTR.callerSubject])).toEqual([SUBJECT, SUBJECT]);
    expect(JSON.stringify(spans.map((span) => span.attributes))).not.toContain(token);
  });
});
