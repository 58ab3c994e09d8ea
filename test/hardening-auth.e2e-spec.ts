import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamLimits } from '../src/modules/aggregation/stream-limits.js';
import { XdsStatusError, type XdsClient } from '../tools/cli/xds-client.js';
import { type SimulatedIstiod } from '../tools/sim/istiod-simulator.js';
import { buildDemoMesh } from '../tools/sim/mesh-fixtures.js';
import { FakeKubeApi } from './kit/fake-kube-api.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';
import { createTokenIssuer, type TokenIssuer } from './kit/test-tokens.js';
import { startEastWestMesh, stopEastWestMesh, type EastWestMesh } from './kit/test-cluster.js';
import { startTestCluster, type TestCluster as KitTestCluster } from './kit/test-cluster.js';
import { waitFor } from './kit/wait-for.js';

const SYNCZ = 'istio.io/debug/syncz';
const ISTIOCTL_SA = { namespace: 'istio-system', serviceAccount: 'default' };
const TOKENREVIEWS = /^\/apis\/authentication\.k8s\.io\/v1\/tokenreviews$/;
const JSON_CONTENT = { 'content-type': 'application/json' };

/** The test Kubernetes API's TokenReview endpoint, and the knobs these tests turn on it. */
interface TokenReviewApi {
  /** TokenReviews received. */
  count: number;
  /** Received and not yet closed: answered, or abandoned by the proxy (a leaked socket stays here). */
  open: number;
  /** 'review': the issuer's verdict after `delayMs`; 'never': no answer at all; a number: that HTTP status. */
  answer: 'review' | 'never' | number;
  delayMs: number;
  /** Replaces status.audiences of an accepted token ([]: an API server that is not audience-aware). */
  audiences?: string[];
}

function serveTokenReview(kube: FakeKubeApi, tokens: TokenIssuer): TokenReviewApi {
  const api: TokenReviewApi = { count: 0, open: 0, answer: 'review', delayMs: 0 };
  kube.route('POST', TOKENREVIEWS, async (_req, res, body) => {
    api.count++;
    api.open++;
    res.on('close', () => api.open--);
    if (api.answer === 'never') return;
    if (api.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, api.delayMs));
    if (typeof api.answer === 'number') return void res.writeHead(api.answer, JSON_CONTENT).end('{}');
    const { spec } = JSON.parse(body) as { spec: { token: string; audiences?: string[] } };
    const verdict = await tokens.verify(spec.token, spec.audiences).then(
      (sa) => ({ authenticated: true, user: { username: sa.subject }, audiences: api.audiences ?? spec.audiences }),
      (err: Error) => ({ authenticated: false, error: err.message }),
    );
    res
      .writeHead(201, JSON_CONTENT)
      .end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec, status: verdict }));
  });
  return api;
}

/** A cluster: a test Kubernetes API that issues ServiceAccount tokens and reviews them. */
type TestCluster = KitTestCluster<TokenReviewApi>;

const startCluster = (id: string, dir: string): Promise<TestCluster> => startTestCluster(id, dir, serveTokenReview);

/** One cluster in its own temporary folder, and a proxy that reviews its callers' tokens there. */
interface ReviewedMesh {
  dir: string;
  cluster: TestCluster;
  mesh: MeshHarness;
}

/** AUTH_MODE=tokenreview against one new cluster, `env` on top. */
async function startReviewedMesh(dirPrefix: string, env: Record<string, string>): Promise<ReviewedMesh> {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const cluster = await startCluster('home', dir);
  const mesh = await startMesh({
    istiods: buildDemoMesh(),
    tokens: cluster.tokens,
    env: {
      AUTH_MODE: 'tokenreview',
      AUTH_KUBECONFIG: cluster.kubeconfig,
      ...env,
      JWT_JWKS_FILE: '',
      JWT_ISSUER: '',
    },
  });
  return { dir, cluster, mesh };
}

async function stopReviewedMesh(reviewed: ReviewedMesh | undefined): Promise<void> {
  if (!reviewed) return;
  await reviewed.mesh.stop();
  await reviewed.cluster.kube.stop();
  rmSync(reviewed.dir, { recursive: true, force: true });
}

interface Outcome {
  /** 'OK' when answered, else the status code's name. */
  code: string;
  details: string;
  ms: number;
}

/** One istioctl-style request (no deadline on the call; the client waits at most 10 s for the answer). */
async function attempt(client: XdsClient): Promise<Outcome> {
  const started = performance.now();
  try {
    await client.request(SYNCZ, [], { timeoutMs: 10_000 });
    return { code: 'OK', details: '', ms: performance.now() - started };
  } catch (err) {
    if (!(err instanceof XdsStatusError)) throw err;
    return { code: status[err.code], details: err.details, ms: performance.now() - started };
  }
}

const streamCount = (istiods: SimulatedIstiod[]) => istiods.reduce((sum, istiod) => sum + istiod.streams.length, 0);

describe('TOKENREVIEW_TIMEOUT_MS, and what a TokenReview must confirm (one cluster)', () => {
  let reviewed: ReviewedMesh | undefined;
  let cluster: TestCluster;
  let mesh: MeshHarness;

  beforeAll(async () => {
    reviewed = await startReviewedMesh('hardening-auth-', { TOKENREVIEW_TIMEOUT_MS: '500' });
    ({ cluster, mesh } = reviewed);
  });
  afterAll(() => stopReviewedMesh(reviewed));

  it('ends the call of a client without deadline UNAVAILABLE, naming the API, once a TokenReview goes unanswered for 500 ms', async () => {
    cluster.reviews.answer = 'never';
    try {
      const before = streamCount(mesh.istiods);
      const outcome = await attempt(mesh.client({ token: await cluster.tokens.mint(ISTIOCTL_SA) }));
      expect(outcome).toMatchObject({
        code: 'UNAVAILABLE',
        details: `token verification unavailable: TokenReview at ${cluster.kube.url} did not answer within 500 ms (TOKENREVIEW_TIMEOUT_MS)`,
      });
      expect(outcome.ms).toBeGreaterThanOrEqual(490);
      expect(outcome.ms).toBeLessThan(2500);
      expect(streamCount(mesh.istiods)).toBe(before);
      // The proxy aborted its request: the test API sees it closed, no socket is left open.
      expect(await waitFor(() => cluster.reviews.open === 0, 2000)).toBe(true);
    } finally {
      cluster.reviews.answer = 'review';
    }
  });

  it('does not remember a TokenReview that went unanswered: the same token is served once the API answers', async () => {
    const token = await cluster.tokens.mint(ISTIOCTL_SA);
    cluster.reviews.answer = 'never';
    try {
      expect((await attempt(mesh.client({ token }))).code).toBe('UNAVAILABLE');
    } finally {
      cluster.reviews.answer = 'review';
    }
    expect((await attempt(mesh.client({ token }))).code).toBe('OK');
  });

  it.each([
    [
      'without confirming any audience (status.audiences empty: valid for the API server only)',
      [],
      'authentication failed: token audience not accepted: the Kubernetes API authenticated it without confirming an audience ' +
        '(empty status.audiences: valid for the API server only) (expected one of: istio-ca)',
    ],
    [
      'for another audience only',
      ['https://kubernetes.default.svc'],
      'authentication failed: token audience not accepted: the Kubernetes API authenticated it for https://kubernetes.default.svc only ' +
        '(expected one of: istio-ca)',
    ],
  ])('refuses a token the Kubernetes API authenticated %s, UNAUTHENTICATED, asking no istiod', async (_, audiences, message) => {
    cluster.reviews.audiences = audiences;
    try {
      const before = streamCount(mesh.istiods);
      const outcome = await attempt(mesh.client({ token: await cluster.tokens.mint(ISTIOCTL_SA) }));
      expect(outcome).toMatchObject({ code: 'UNAUTHENTICATED', details: message });
      expect(streamCount(mesh.istiods)).toBe(before);
    } finally {
      cluster.reviews.audiences = undefined;
    }
  });
});

describe('TOKENREVIEW_TIMEOUT_MS with several clusters (AUTH_CLUSTERS)', () => {
  const TIMEOUT_MS = 1500;
  let running: EastWestMesh<TokenReviewApi> | undefined;
  let east: TestCluster;
  let west: TestCluster;
  let istiodOwn: TokenIssuer;
  let mesh: MeshHarness;

  beforeAll(async () => {
    running = await startEastWestMesh('hardening-auth-clusters-', serveTokenReview, {
      env: { TOKENREVIEW_TIMEOUT_MS: String(TIMEOUT_MS) },
    });
    ({ east, west, istiodOwn, mesh } = running);
  });
  afterAll(() => stopEastWestMesh(running));

  it('serves a caller of west at once while east does not answer', async () => {
    east.reviews.answer = 'never';
    try {
      const outcome = await attempt(mesh.client({ token: await west.tokens.mint(ISTIOCTL_SA) }));
      expect(outcome.code).toBe('OK');
      expect(outcome.ms).toBeLessThan(TIMEOUT_MS); // east's review is still pending
    } finally {
      east.reviews.answer = 'review';
    }
  });

  it('answers UNAVAILABLE naming east, not UNAUTHENTICATED, when west rejects the token and east does not answer', async () => {
    east.reviews.answer = 'never';
    try {
      const outcome = await attempt(mesh.client({ token: await istiodOwn.mint(ISTIOCTL_SA) }));
      expect(outcome.code).toBe('UNAVAILABLE');
      expect(outcome.details).toMatch(
        new RegExp(
          '^token verification unavailable: no known cluster accepted the token and 1 of 2 did not answer ' +
            `\\(east: TokenReview at ${east.kube.url} \\(cluster east\\) did not answer within ${TIMEOUT_MS} ms \\(TOKENREVIEW_TIMEOUT_MS\\); ` +
            'west: token rejected by the Kubernetes API: .*\\)$',
        ),
      );
      expect(outcome.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 10);
      expect(outcome.ms).toBeLessThan(TIMEOUT_MS + 1500);
      expect(await waitFor(() => east.reviews.open === 0, 2000)).toBe(true);
    } finally {
      east.reviews.answer = 'review';
    }
  });
});

describe('TOKEN_REJECT_CACHE_MS / TOKEN_REJECT_CACHE_SIZE: rejected tokens are remembered, boundedly', () => {
  const MAX_REJECTED = 200;
  let reviewed: ReviewedMesh | undefined;
  let cluster: TestCluster;
  let foreign: TokenIssuer;
  let mesh: MeshHarness;

  /** Sends each token once, `parallel` at a time; every call must be refused UNAUTHENTICATED. */
  const refuseAll = async (tokens: string[], parallel = 25) => {
    for (let i = 0; i < tokens.length; i += parallel) {
      const outcomes = await Promise.all(tokens.slice(i, i + parallel).map((token) => attempt(mesh.client({ token }))));
      expect(new Set(outcomes.map((outcome) => outcome.code))).toEqual(new Set(['UNAUTHENTICATED']));
    }
  };
  /** Well-formed, unexpired tokens signed by a key no cluster knows: only a TokenReview can refuse them. */
  const badTokens = (count: number) =>
    Promise.all(Array.from({ length: count }, (_, i) => foreign.mint({ namespace: 'ops', serviceAccount: `sa-${i}` })));

  beforeAll(async () => {
    reviewed = await startReviewedMesh('hardening-auth-rejects-', { TOKEN_REJECT_CACHE_SIZE: String(MAX_REJECTED) });
    ({ cluster, mesh } = reviewed);
    foreign = await createTokenIssuer({ issuer: 'https://elsewhere.example/' });
  });
  afterAll(() => stopReviewedMesh(reviewed));

  it('200 distinct bad tokens sent twice make 200 TokenReviews, not 400', async () => {
    const tokens = await badTokens(200);
    const before = cluster.reviews.count;
    await refuseAll(tokens);
    expect(cluster.reviews.count - before).toBe(200);
    await refuseAll(tokens);
    expect(cluster.reviews.count - before).toBe(200);
  });

  it('past TOKEN_REJECT_CACHE_SIZE=200 the oldest rejections are forgotten first', async () => {
    const tokens = await badTokens(MAX_REJECTED + 10);
    const before = cluster.reviews.count;
    await refuseAll(tokens);
    expect(cluster.reviews.count - before).toBe(210);
    await refuseAll(tokens.slice(10)); // the newest 200: remembered
    expect(cluster.reviews.count - before).toBe(210);
    await refuseAll(tokens.slice(0, 10)); // the 10 oldest were crowded out: reviewed again
    expect(cluster.reviews.count - before).toBe(220);
  });

  it('does not remember a token whose TokenReview failed (HTTP 500): each call asks again', async () => {
    cluster.reviews.answer = 500;
    try {
      const [token] = await badTokens(1);
      const before = cluster.reviews.count;
      const outcomes = [await attempt(mesh.client({ token })), await attempt(mesh.client({ token }))];
      expect(outcomes.map((outcome) => outcome.details)).toEqual([
        'authentication failed: token could not be verified: TokenReview failed (500)',
        'authentication failed: token could not be verified: TokenReview failed (500)',
      ]);
      expect(cluster.reviews.count - before).toBe(2);
    } finally {
      cluster.reviews.answer = 'review';
    }
  });
});

describe('calls whose token is being verified hold stream slots (MAX_CONCURRENT_STREAMS=4)', () => {
  const REVIEW_DELAY_MS = 2000;
  let reviewed: ReviewedMesh | undefined;
  let cluster: TestCluster;
  let mesh: MeshHarness;
  let limits: StreamLimits;

  beforeAll(async () => {
    reviewed = await startReviewedMesh('hardening-auth-slots-', { MAX_CONCURRENT_STREAMS: '4' });
    ({ cluster, mesh } = reviewed);
    limits = mesh.proxy.app.get(StreamLimits);
  });
  afterAll(() => stopReviewedMesh(reviewed));

  const slotsFree = () => waitFor(() => limits.open === 0 && limits.pending === 0, 5000);
  /** Distinct tokens (each its own jti), so that no verification is shared. */
  const callers = (count: number) => Promise.all(Array.from({ length: count }, () => cluster.tokens.mint(ISTIOCTL_SA)));

  it('refuses the 5th concurrent call RESOURCE_EXHAUSTED at once while 4 tokens are being verified, then frees every slot', async () => {
    cluster.reviews.delayMs = REVIEW_DELAY_MS;
    try {
      const [fifth, ...first] = await callers(5);
      const before = cluster.reviews.count;
      const verifying = first.map((token) => attempt(mesh.client({ token })));
      expect(await waitFor(() => cluster.reviews.count - before === 4)).toBe(true);
      expect(limits.pending).toBe(4);

      const refused = await attempt(mesh.client({ token: fifth }));
      expect(refused).toMatchObject({
        code: 'RESOURCE_EXHAUSTED',
        details: 'too many open streams on this proxy (MAX_CONCURRENT_STREAMS=4, 4 of them awaiting token verification); retry later',
      });
      expect(refused.ms).toBeLessThan(REVIEW_DELAY_MS / 2);
      expect(cluster.reviews.count - before).toBe(4); // the 5th token was never reviewed

      expect((await Promise.all(verifying)).map((outcome) => outcome.code)).toEqual(['OK', 'OK', 'OK', 'OK']);
      expect(await slotsFree()).toBe(true);
    } finally {
      cluster.reviews.delayMs = 0;
    }
  });

  it('gives the slots of callers that cancel mid-verification back once verification ends', async () => {
    cluster.reviews.delayMs = REVIEW_DELAY_MS;
    try {
      const tokens = await callers(4);
      const before = cluster.reviews.count;
      const streams = tokens.map((token) => {
        const stream = mesh.client({ token }).openStream();
        stream.send({ type_url: SYNCZ });
        return stream;
      });
      expect(await waitFor(() => cluster.reviews.count - before === 4)).toBe(true);
      for (const stream of streams) stream.cancel();
      // The reviews still run, so the slots stay taken until they end: a cancel-and-retry flood stays bounded.
      expect(limits.pending).toBe(4);
      expect(await slotsFree()).toBe(true);
    } finally {
      cluster.reviews.delayMs = 0;
    }
    expect((await attempt(mesh.client({ token: (await callers(1))[0] }))).code).toBe('OK');
    expect(await slotsFree()).toBe(true);
  });
});

describe('AUTH_MODE=jwks: exp required, 60 s of clock skew, iss checked', () => {
  const ISSUER = 'https://kubernetes.default.svc.cluster.local';
  let kube: FakeKubeApi;
  let key: CryptoKey;
  let mesh: MeshHarness;

  /** A ServiceAccount token of the test API's key; `claims` override or (undefined) remove the defaults. */
  const sign = (claims: JWTPayload = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      sub: 'system:serviceaccount:istio-system:default',
      aud: ['istio-ca'],
      iss: ISSUER,
      iat: now,
      exp: now + 600,
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'sa-key' })
      .sign(key);
  };
  const outcomeOf = async (claims: JWTPayload) => attempt(mesh.client({ token: await sign(claims) }));
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    key = pair.privateKey;
    const jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'sa-key', alg: 'ES256', use: 'sig' }] };
    kube = new FakeKubeApi();
    await kube.start();
    kube.route('GET', /^\/openid\/v1\/jwks$/, (_req, res) => void res.writeHead(200, JSON_CONTENT).end(JSON.stringify(jwks)));
    mesh = await startMesh({
      // istiod's own check of the forwarded token is not what these tests are about.
      istiods: buildDemoMesh().map((replica) => ({ ...replica, verifyToken: () => Promise.resolve(ISTIOCTL_SA) })),
      env: { AUTH_MODE: 'jwks', JWT_JWKS_URI: `${kube.url}/openid/v1/jwks`, JWT_JWKS_FILE: '', JWT_ISSUER: ISSUER },
    });
  });
  afterAll(async () => {
    await mesh?.stop();
    await kube?.stop();
  });

  it('serves a well-formed token', async () => {
    expect((await outcomeOf({})).code).toBe('OK');
  });

  it('refuses a token without exp UNAUTHENTICATED, naming the claim', async () => {
    expect(await outcomeOf({ exp: undefined })).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: 'authentication failed: token has no expiry: the "exp" claim is required',
    });
  });

  it.each<[string, () => JWTPayload, string]>([
    ['valid from 30 s from now', () => ({ nbf: now() + 30 }), 'OK'],
    ['expired 30 s ago', () => ({ exp: now() - 30 }), 'OK'],
    ['valid from 2 min from now', () => ({ nbf: now() + 120 }), 'authentication failed: token not yet valid'],
    ['expired 2 min ago', () => ({ exp: now() - 120 }), 'authentication failed: token expired'],
  ])('tolerates 60 s of clock skew: a token %s', async (_, claims, expected) => {
    const outcome = await outcomeOf(claims());
    expect(outcome.code === 'OK' ? 'OK' : outcome.details).toBe(expected);
  });

  it.each([
    ['from another issuer', { iss: 'https://elsewhere.example' }, `authentication failed: token issuer not accepted (expected ${ISSUER})`],
    ['without iss', { iss: undefined }, `authentication failed: token has no issuer: the "iss" claim is required (expected ${ISSUER})`],
  ])('checks iss against JWT_ISSUER: refuses a token %s, naming the expected issuer', async (_, claims, message) => {
    const before = streamCount(mesh.istiods);
    expect(await outcomeOf(claims)).toMatchObject({ code: 'UNAUTHENTICATED', details: message });
    expect(streamCount(mesh.istiods)).toBe(before);
  });
});
