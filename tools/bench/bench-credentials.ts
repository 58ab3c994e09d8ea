import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority } from '../../src/modules/tls/pki.js';
import { createTokenIssuer } from '../../test/kit/test-tokens.js';

/** The proxy's default UPSTREAM_SERVER_NAME, so the bench needs no override. */
export const ISTIOD_SERVER_NAME = 'istiod.istio-system.svc';

/** Outlives any run (the global time limit is far shorter). */
const TOKEN_LIFETIME_S = 4 * 3600;

export interface BenchCredentials {
  dir: string;
  caFile: string;
  istiodCertFile: string;
  istiodKeyFile: string;
  proxyCertFile: string;
  proxyKeyFile: string;
  /** The proxy verifies callers with AUTH_MODE=jwks against this file and issuer. */
  jwksFile: string;
  issuer: string;
  /** A ServiceAccount token as istioctl would send it (audience istio-ca). */
  mintToken(namespace: string, serviceAccount: string): Promise<string>;
  remove(): void;
}

/**
 * A throwaway CA, the two serving certificates (istiods, proxy) and a token signer's JWKS, as files
 * in a private temp dir; nothing is written to the repository.
 */
export async function createBenchCredentials(): Promise<BenchCredentials> {
  const dir = mkdtempSync(join(tmpdir(), 'istioctl-proxy-bench-'));
  const ca = await createCertificateAuthority('istioctl-proxy bench root');
  const istiod = await ca.issue({ commonName: 'istiod', dnsNames: [ISTIOD_SERVER_NAME] });
  const proxy = await ca.issue({ commonName: 'istioctl-proxy', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  const tokens = await createTokenIssuer();
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  return {
    dir,
    caFile: file('root-cert.pem', ca.certPem),
    istiodCertFile: file('istiod-cert.pem', istiod.certPem),
    istiodKeyFile: file('istiod-key.pem', istiod.keyPem),
    proxyCertFile: file('proxy-cert.pem', proxy.certPem),
    proxyKeyFile: file('proxy-key.pem', proxy.keyPem),
    jwksFile: file('jwks.json', JSON.stringify(tokens.jwks)),
    issuer: tokens.issuer,
    mintToken: (namespace, serviceAccount) => tokens.mint({ namespace, serviceAccount, expiresInSeconds: TOKEN_LIFETIME_S }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
