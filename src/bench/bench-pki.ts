import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority } from '../common/test-pki.js';

/** The proxy's default UPSTREAM_SERVER_NAME, so the bench needs no override. */
export const ISTIOD_SERVER_NAME = 'istiod.istio-system.svc';

export interface BenchPki {
  dir: string;
  caFile: string;
  istiodCertFile: string;
  istiodKeyFile: string;
  proxyCertFile: string;
  proxyKeyFile: string;
  remove(): void;
}

/** A throwaway CA and the two serving certificates (istiods, proxy), as files in a private temp dir. */
export async function createBenchPki(): Promise<BenchPki> {
  const dir = mkdtempSync(join(tmpdir(), 'istioctl-proxy-bench-'));
  const ca = await createCertificateAuthority('istioctl-proxy bench root');
  const istiod = await ca.issue({ commonName: 'istiod', dnsNames: [ISTIOD_SERVER_NAME] });
  const proxy = await ca.issue({ commonName: 'istioctl-proxy', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
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
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
