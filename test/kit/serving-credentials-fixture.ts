import { afterEach, vi } from 'vitest';
import { createCertificateAuthority, type CertificateAuthority, type PemPair } from '../../src/modules/tls/pki.js';
import { createServingCredentials, type ServingCredentialsOptions } from '../../src/modules/tls/serving-credentials.js';
import { startAds } from './ads-harness.js';
import { SecretVolume } from './secret-volume.js';

// Shared set-up of the serving-credentials specs (rotation, modes, startup): one cleanup list run
// after each test, a logger spy, and the proxy's serving credentials behind a real ADS server.

export const REFRESH_MS = 100;
/** Generous next to REFRESH_MS; only reached when something is broken. */
export const WAIT = { timeout: 5_000, interval: 50 };

/** Registered once per spec file that imports this module; run in reverse order after each test. */
export const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export function testLogger() {
  return { log: vi.fn<(message: string) => void>(), warn: vi.fn<(message: string) => void>() };
}

export async function serve(options: ServingCredentialsOptions, logger = testLogger()) {
  const sut = await createServingCredentials({ refreshIntervalMs: REFRESH_MS, ...options }, logger);
  cleanups.push(() => sut.close());
  const ads = await startAds(sut.credentials);
  cleanups.push(() => ads.stop());
  return { sut, port: ads.port, logger };
}

export async function volumeWith(pair: PemPair): Promise<SecretVolume> {
  const volume = await SecretVolume.create({ 'tls.crt': pair.certPem, 'tls.key': pair.keyPem });
  cleanups.push(() => volume.remove());
  return volume;
}

/** A fresh test CA and, in order, one serving pair per common name, each for localhost and 127.0.0.1. */
export async function issueServingPairs(...commonNames: string[]): Promise<{ ca: CertificateAuthority; pairs: PemPair[] }> {
  const ca = await createCertificateAuthority();
  const pairs = await Promise.all(commonNames.map((commonName) => ca.issue({ commonName, dnsNames: ['localhost'], ips: ['127.0.0.1'] })));
  return { ca, pairs };
}

export function fileOptions(volume: SecretVolume): ServingCredentialsOptions {
  return { plaintext: false, certFile: volume.path('tls.crt'), keyFile: volume.path('tls.key') };
}
