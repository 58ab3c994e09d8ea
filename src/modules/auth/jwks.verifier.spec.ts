import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALG, KID, NOW_S, SUBJECT } from '../../../test/kit/jwks-fixtures.js';
import { ManualClock } from '../../common/clock.js';
import { TokenRejected } from './caller-identity.js';
import { JwksVerifier, type JwksVerifierOptions } from './jwks.verifier.js';

// Verification itself; the cache in front of it (JWT_CACHE_MS, TOKEN_CACHE_SIZE) is jwks-cache.spec.ts.

describe('JwksVerifier', () => {
  let signingKey: CryptoKey;
  let otherKey: CryptoKey;
  let jwksFile: string;
  let server: Server;
  let url: string;
  const served = { discovery: 0, jwks: 0 };

  beforeAll(async () => {
    const pair = await generateKeyPair(ALG, { extractable: true });
    signingKey = pair.privateKey;
    otherKey = (await generateKeyPair(ALG)).privateKey;
    const jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: KID, alg: ALG, use: 'sig' } satisfies JWK] };
    jwksFile = join(mkdtempSync(join(tmpdir(), 'jwks-')), 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify(jwks));
    // An OIDC issuer: discovery document and key set, as the Kubernetes API server serves them.
    server = createServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        served.discovery++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: url, jwks_uri: `${url}/keys` }));
      } else if (req.url === '/keys') {
        served.jwks++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server?.close(() => resolve())));

  const clock = () => new ManualClock(NOW_S * 1000);
  const verifier = (options: Partial<JwksVerifierOptions> = {}) =>
    new JwksVerifier({ audiences: ['istio-ca'], jwksFile, clock: clock(), ...options });
  const sign = (claims: JWTPayload = {}, { key = signingKey, kid = KID } = {}) =>
    new SignJWT({ sub: SUBJECT, aud: ['istio-ca'], iat: NOW_S, exp: NOW_S + 600, ...claims })
      .setProtectedHeader({ alg: ALG, kid })
      .sign(key);

  it('returns the identity of a token signed by a key of the set, with its expiry', async () => {
    await expect(verifier().verify(await sign())).resolves.toEqual({
      subject: SUBJECT,
      namespace: 'ops',
      serviceAccount: 'sre',
      expiresAtMs: (NOW_S + 600) * 1000,
    });
  });

  it('checks exp and nbf against the injected clock, tolerating 60 s of skew like the Kubernetes API', async () => {
    const time = clock();
    const sut = verifier({ clock: time });
    const token = await sign({ nbf: NOW_S + 61, exp: NOW_S + 120 });
    await expect(sut.verify(token)).rejects.toEqual(new TokenRejected('token not yet valid'));
    time.advance(1_000); // nbf is now 60 s ahead: within the skew
    await expect(sut.verify(token)).resolves.toMatchObject({ subject: SUBJECT });
    time.advance(178_000); // exp passed 59 s ago: within the skew
    await expect(sut.verify(token)).resolves.toMatchObject({ subject: SUBJECT });
    time.advance(1_000);
    await expect(sut.verify(token)).rejects.toEqual(new TokenRejected('token expired'));
  });

  it('requires exp: a token that never expires is refused, naming the claim', async () => {
    await expect(verifier().verify(await sign({ exp: undefined }))).rejects.toEqual(
      new TokenRejected('token has no expiry: the "exp" claim is required'),
    );
  });

  it.each<[string, () => Promise<string>, string]>([
    ['another audience', () => sign({ aud: 'vault' }), 'token audience not accepted (expected one of: istio-ca)'],
    ['a foreign key under the known kid', () => sign({}, { key: otherKey }), 'token signature invalid'],
    ['an unknown kid', () => sign({}, { key: otherKey, kid: 'elsewhere' }), 'token signed by an unknown key'],
    ['no subject', () => sign({ sub: undefined }), 'token has no subject'],
    ['not a JWT', () => Promise.resolve('not-a-jwt'), 'malformed token'],
  ])('rejects a token with %s, naming the check', async (_, token, reason) => {
    await expect(verifier().verify(await token())).rejects.toEqual(new TokenRejected(reason));
  });

  it.each<[string, () => Partial<JwksVerifierOptions>]>([
    ['JWT_JWKS_FILE', () => ({})],
    ['JWT_JWKS_URI', () => ({ jwksFile: undefined, jwksUri: `${url}/keys` })],
  ])('checks iss whenever JWT_ISSUER is set, with the keys from %s', async (_, keySource) => {
    const issuer = 'https://kubernetes.default.svc';
    const sut = verifier({ ...keySource(), issuer });
    await expect(sut.verify(await sign({ iss: 'https://elsewhere' }))).rejects.toEqual(
      new TokenRejected(`token issuer not accepted (expected ${issuer})`),
    );
    await expect(sut.verify(await sign())).rejects.toEqual(
      new TokenRejected(`token has no issuer: the "iss" claim is required (expected ${issuer})`),
    );
    await expect(sut.verify(await sign({ iss: issuer }))).resolves.toMatchObject({ subject: SUBJECT });
  });

  it('accepts any issuer when JWT_ISSUER is not set', async () => {
    await expect(verifier().verify(await sign({ iss: 'https://anywhere' }))).resolves.toMatchObject({ subject: SUBJECT });
  });

  it('fetches the key set from JWT_JWKS_URI', async () => {
    const sut = verifier({ jwksFile: undefined, jwksUri: `${url}/keys` });
    await expect(sut.verify(await sign())).resolves.toMatchObject({ subject: SUBJECT });
  });

  it('finds the key set by OIDC discovery of JWT_ISSUER, once', async () => {
    const sut = verifier({ jwksFile: undefined, issuer: url });
    const before = { ...served };
    for (const sa of ['a', 'b']) {
      await expect(sut.verify(await sign({ iss: url, sub: `system:serviceaccount:ops:${sa}` }))).resolves.toMatchObject({
        serviceAccount: sa,
      });
    }
    expect(served.discovery - before.discovery).toBe(1);
    expect(served.jwks - before.jwks).toBe(1);
  });

  it('reports an issuer without OIDC discovery as unverifiable', async () => {
    const issuer = `${url}/nowhere`;
    await expect(verifier({ jwksFile: undefined, issuer }).verify(await sign({ iss: issuer }))).rejects.toEqual(
      new TokenRejected(`token could not be verified: OIDC discovery at ${issuer}/.well-known/openid-configuration answered 404`),
    );
  });

  it('fails at construction, naming the variable, without a key source or with an unreadable file', () => {
    expect(() => verifier({ jwksFile: undefined })).toThrow('JWT_JWKS_URI or JWT_ISSUER or JWT_JWKS_FILE must be set');
    expect(() => verifier({ jwksFile: join(tmpdir(), 'no-such-jwks.json') })).toThrow(
      /JWT_JWKS_FILE=.*no-such-jwks\.json is not a readable/,
    );
  });
});
