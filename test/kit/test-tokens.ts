import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from 'jose';

export const KUBERNETES_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const ISTIO_CA_AUDIENCE = 'istio-ca';
const SIGNING_ALGORITHM = 'RS256';
const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:([^:]+):([^:]+)$/;

export interface MintOptions {
  namespace: string;
  serviceAccount: string;
  audiences?: string[];
  /** Negative values mint an already expired token. */
  expiresInSeconds?: number;
  /** Offset of `nbf` from now; positive values mint a token that is not valid yet. Default: `nbf = iat`. */
  notBeforeSeconds?: number;
}

export interface VerifiedServiceAccount {
  namespace: string;
  serviceAccount: string;
  subject: string;
}

export interface TokenIssuer {
  issuer: string;
  publicJwk: JWK;
  jwks: { keys: JWK[] };
  mint(options: MintOptions): Promise<string>;
  verify(token: string, audiences?: string[]): Promise<VerifiedServiceAccount>;
}

/**
 * Stands in for the Kubernetes API server's ServiceAccount token signer: tokens look like the
 * projected tokens istioctl obtains with TokenRequest, so both the simulated istiod and the proxy's
 * jose-based verifier can be exercised without a cluster.
 */
export async function createTokenIssuer({ issuer = KUBERNETES_ISSUER }: { issuer?: string } = {}): Promise<TokenIssuer> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true });
  const exported = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(exported);
  const publicJwk: JWK = { ...exported, kid, alg: SIGNING_ALGORITHM, use: 'sig' };

  return {
    issuer,
    publicJwk,
    jwks: { keys: [publicJwk] },

    async mint({ namespace, serviceAccount, audiences = [ISTIO_CA_AUDIENCE], expiresInSeconds = 3600, notBeforeSeconds }) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount, uid: randomUUID() } },
      })
        .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid })
        .setIssuer(issuer)
        .setSubject(`system:serviceaccount:${namespace}:${serviceAccount}`)
        .setAudience(audiences)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setNotBefore(now + (notBeforeSeconds ?? 0))
        .setExpirationTime(now + expiresInSeconds)
        .sign(privateKey);
    },

    async verify(token, audiences = [ISTIO_CA_AUDIENCE]) {
      const { payload } = await jwtVerify(token, publicKey, {
        issuer,
        audience: audiences,
        algorithms: [SIGNING_ALGORITHM],
      });
      const match = SERVICE_ACCOUNT_SUBJECT.exec(payload.sub ?? '');
      if (!match) throw new Error(`token subject ${JSON.stringify(payload.sub)} is not a service account`);
      return { namespace: match[1], serviceAccount: match[2], subject: match[0] };
    },
  };
}
