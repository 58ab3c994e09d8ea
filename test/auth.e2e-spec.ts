import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XdsStatusError } from '../tools/cli/xds-errors.js';
import { decodeClientConfigs } from '../tools/cli/xds-decoders.js';
import { buildDemoMesh } from '../tools/sim/mesh-fixtures.js';
import { createTokenIssuer, type TokenIssuer } from './kit/test-tokens.js';
import { FakeKubeApi } from './kit/fake-kube-api.js';
import { serveTokenIssuer } from './kit/issuer-routes.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';
import { failure } from './kit/xds-failure.js';

const SYNCZ = 'istio.io/debug/syncz';

/** One istioctl-like request whose authorization header is sent verbatim (not "Bearer ..."). */
async function rawAuthorization(mesh: MeshHarness, header: string): Promise<unknown> {
  const grpc = await import('@grpc/grpc-js');
  const { adsClientConstructor } = await import('../src/common/proto.js');
  const { istioctlNode } = await import('../tools/cli/istioctl-node.js');
  const Ctor = adsClientConstructor();
  const client = new Ctor(mesh.proxyAddress, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', header);
  const call = (
    client as unknown as { StreamAggregatedResources(md: unknown): import('@grpc/grpc-js').ClientDuplexStream<object, object> }
  ).StreamAggregatedResources(metadata);
  call.on('error', () => undefined);
  const final = new Promise<{ code: number; details: string }>((resolve) => call.on('status', resolve));
  call.write({ node: istioctlNode(), type_url: SYNCZ, response_nonce: 'now' });
  const { code, details } = await final;
  client.close();
  throw new XdsStatusError({ code, details });
}

function totalStreams(mesh: MeshHarness): number {
  return mesh.istiods.reduce((sum, istiod) => sum + istiod.streams.length, 0);
}

describe.each(['tokenreview', 'jwks'] as const)('AUTH_MODE=%s', (mode) => {
  let kube: FakeKubeApi;
  let tokens: TokenIssuer;
  let mesh: MeshHarness;
  let dir: string;
  const reviews = { count: 0, delayMs: 0 };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'auth-e2e-'));
    tokens = await createTokenIssuer({ issuer: 'https://kubernetes.default.svc.cluster.local' });
    kube = new FakeKubeApi();
    await kube.start();
    serveTokenIssuer(kube, tokens, reviews);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kube.kubeconfigYaml());
    const env: Record<string, string> =
      mode === 'tokenreview'
        ? { AUTH_MODE: 'tokenreview', AUTH_KUBECONFIG: kubeconfig, JWT_JWKS_FILE: '', JWT_ISSUER: '' }
        : { AUTH_MODE: 'jwks', JWT_JWKS_URI: `${kube.url}/openid/v1/jwks`, JWT_JWKS_FILE: '', JWT_ISSUER: tokens.issuer };
    mesh = await startMesh({ istiods: buildDemoMesh(), tokens, env: { ...env, AUTH_ALLOWED_NAMESPACES: 'istio-system,ops' } });
  });
  afterAll(async () => {
    await mesh?.stop();
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a valid token, and istiod sees the caller own token and identity', async () => {
    const before = mesh.istiods.map((istiod) => istiod.streams.length);
    const { response } = await mesh.client().request(SYNCZ);
    expect(decodeClientConfigs(response).length).toBeGreaterThan(0);
    mesh.istiods.forEach((istiod, i) => {
      const stream = istiod.streams[before[i]];
      expect(stream.metadata.authorization).toBe(`Bearer ${mesh.istioctlToken}`);
      expect(stream.identity).toMatchObject({ namespace: 'istio-system', serviceAccount: 'default' });
    });
  });

  it.each([
    ['missing token', () => undefined, /missing bearer token .* drop those flags/],
    ['garbage token', () => 'not-a-jwt', /authentication failed: malformed/],
    [
      'token signed by another key',
      async () => (await createTokenIssuer()).mint({ namespace: 'istio-system', serviceAccount: 'default' }),
      mode === 'jwks'
        ? /authentication failed: token signed by an unknown key/
        : /authentication failed: token rejected by the Kubernetes API/,
    ],
    [
      'wrong audience',
      (issuer: TokenIssuer) => issuer.mint({ namespace: 'istio-system', serviceAccount: 'default', audiences: ['vault'] }),
      mode === 'jwks'
        ? /authentication failed: token audience not accepted \(expected one of: istio-ca\)/
        : /authentication failed: token rejected/,
    ],
    [
      'expired token',
      (issuer: TokenIssuer) => issuer.mint({ namespace: 'istio-system', serviceAccount: 'default', expiresInSeconds: -120 }),
      /authentication failed: token expired/,
    ],
    [
      'not-yet-valid token',
      (issuer: TokenIssuer) => issuer.mint({ namespace: 'istio-system', serviceAccount: 'default', notBeforeSeconds: 600 }),
      /authentication failed: token not yet valid/,
    ],
    [
      'token from another issuer',
      async () =>
        (await createTokenIssuer({ issuer: 'https://evil.example' })).mint({ namespace: 'istio-system', serviceAccount: 'default' }),
      mode === 'jwks'
        ? /authentication failed: token (signed by an unknown key|issuer not accepted)/
        : /authentication failed: token rejected by the Kubernetes API/,
    ],
    ['non-Bearer authorization', () => 'Basic dXNlcjpwYXNz', /malformed "authorization" metadata: expected "Bearer <token>"/, true],
  ])('rejects a %s with UNAUTHENTICATED before any istiod is asked', async (_name, makeToken, message, rawHeader?: boolean) => {
    const token = await makeToken(tokens);
    const before = totalStreams(mesh);
    const error = await failure(
      rawHeader ? rawAuthorization(mesh, token!) : mesh.client({ token }).request(SYNCZ, [], { timeoutMs: 5000 }),
    );
    expect(error.code).toBe(status.UNAUTHENTICATED);
    expect(error.details).toMatch(message);
    if (token) expect(error.details).not.toContain(token);
    expect(totalStreams(mesh)).toBe(before);
  });

  it('rejects a namespace outside AUTH_ALLOWED_NAMESPACES with PERMISSION_DENIED, asking no istiod', async () => {
    const token = await tokens.mint({ namespace: 'bookinfo', serviceAccount: 'default' });
    const before = totalStreams(mesh);
    const error = await failure(mesh.client({ token }).request(SYNCZ, [], { timeoutMs: 5000 }));
    expect(error.code).toBe(status.PERMISSION_DENIED);
    expect(error.details).toContain('system:serviceaccount:bookinfo:default is not allowed');
    expect(totalStreams(mesh)).toBe(before);
  });

  if (mode === 'tokenreview') {
    it('100 requests with one token make one TokenReview', async () => {
      const token = await tokens.mint({ namespace: 'ops', serviceAccount: 'sre' });
      const before = reviews.count;
      const client = mesh.client({ token });
      await Promise.all(Array.from({ length: 10 }, () => client.request(SYNCZ, [], { timeoutMs: 10_000 }).catch(() => undefined)));
      for (let i = 0; i < 90; i++) await client.request(SYNCZ, [], { timeoutMs: 10_000 }).catch(() => undefined);
      expect(reviews.count - before).toBe(1);
    });

    it('does not lose the first request while a slow TokenReview is pending (nestjs/nest#14094)', async () => {
      reviews.delayMs = 300;
      try {
        const token = await tokens.mint({ namespace: 'istio-system', serviceAccount: 'default', expiresInSeconds: 1800 });
        const stream = mesh.client({ token }).openStream();
        stream.send({ type_url: SYNCZ }); // sent at once, before the guard has decided
        const response = await stream.next({ timeoutMs: 5000 });
        stream.cancel();
        expect(response.type_url).toBe(SYNCZ);
      } finally {
        reviews.delayMs = 0;
      }
    });
  }
});
