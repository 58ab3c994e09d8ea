import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority } from '../../src/modules/tls/pki.js';
import { SimulatedIstiod } from '../sim/istiod-simulator.js';
import { buildDemoMesh } from '../sim/mesh-fixtures.js';
import { createTokenIssuer } from '../../test/kit/test-tokens.js';

export const DEMO_ISTIOD_SERVER_NAME = 'istiod.istio-system.svc';

export interface DemoMesh {
  istiods: SimulatedIstiod[];
  dir: string;
  caFile: string;
  tokenFile: string;
  /** Public keys of the demo token issuer (AUTH_MODE=jwks, JWT_JWKS_FILE). */
  jwksFile: string;
  issuer: string;
  /** Proxy serving certificate and key files (self-signed by the demo CA; nothing is committed). */
  servingCertFile: string;
  servingKeyFile: string;
  stop(): Promise<void>;
}

/**
 * Three simulated istiods on loopback, as an external control plane would run them: TLS from a
 * throwaway CA, tokens checked like istiod does, each replica holding its own sidecars.
 */
export async function startDemoMesh(): Promise<DemoMesh> {
  const dir = mkdtempSync(join(tmpdir(), 'istioctl-proxy-demo-'));
  const ca = await createCertificateAuthority('istioctl-proxy demo root');
  const tokens = await createTokenIssuer();
  const istiodCert = await ca.issue({ commonName: 'istiod', dnsNames: [DEMO_ISTIOD_SERVER_NAME] });
  const proxyCert = await ca.issue({ commonName: 'istioctl-proxy', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  const caFile = file('root-cert.pem', ca.certPem);
  // What istioctl obtains with a TokenRequest: ServiceAccount default in istio-system, audience istio-ca.
  const tokenFile = file(
    'istioctl-token',
    await tokens.mint({ namespace: 'istio-system', serviceAccount: 'default', expiresInSeconds: 24 * 3600 }),
  );
  const jwksFile = file('jwks.json', JSON.stringify(tokens.jwks));
  const servingCertFile = file('proxy-cert.pem', proxyCert.certPem);
  const servingKeyFile = file('proxy-key.pem', proxyCert.keyPem);

  const istiods = buildDemoMesh().map(
    (spec) => new SimulatedIstiod({ ...spec, tls: istiodCert, verifyToken: async (token) => tokens.verify(token) }),
  );
  await Promise.all(istiods.map((istiod) => istiod.start()));
  return {
    istiods,
    dir,
    caFile,
    tokenFile,
    jwksFile,
    issuer: tokens.issuer,
    servingCertFile,
    servingKeyFile,
    async stop() {
      await Promise.all(istiods.map((istiod) => istiod.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
