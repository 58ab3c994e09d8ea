import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { parseServingIdentity, type ServingIdentity } from './serving-material.js';

export const SELF_SIGNED_COMMON_NAME = 'istioctl-proxy';

/** Renew no sooner than this, whatever the certificate's lifetime, so a clock oddity cannot spin. */
const MIN_RENEWAL_DELAY_MS = 60_000;
/** setTimeout fires at once for anything longer (about 24.8 days). */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export function defaultSelfSignedNames(): string[] {
  return ['localhost', hostname(), '127.0.0.1', '::1'];
}

/** A fresh certificate and key that exist only in this process's memory. */
export async function createSelfSignedIdentity(names: readonly string[]): Promise<ServingIdentity> {
  const unique = [...new Set(names)];
  // Loaded on demand: the X.509 library is only needed when no certificate is mounted.
  const { createSelfSigned } = await import('./pki.js');
  const { certPem, keyPem } = await createSelfSigned(
    SELF_SIGNED_COMMON_NAME,
    unique.filter((name) => isIP(name) === 0),
    unique.filter((name) => isIP(name) !== 0),
  );
  return parseServingIdentity(certPem, keyPem);
}

/** Half the remaining lifetime: the process may run longer than the short-lived certificate. */
export function renewalDelayMs(identity: ServingIdentity, now: number): number {
  const halfLife = (Date.parse(identity.leaf.validTo) - now) / 2;
  return Math.min(MAX_TIMER_DELAY_MS, Math.max(MIN_RENEWAL_DELAY_MS, halfLife));
}
