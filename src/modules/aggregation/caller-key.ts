import { createHash } from 'node:crypto';
import { CallerContext } from './caller-context.js';

/**
 * Who the answer is for, as part of the coalescing key: istiod filters answers per caller, so
 * different callers must never share one. A verified subject when auth ran; otherwise
 * (AUTH_MODE=none) the token itself, hashed, since istiod will authorize each token separately.
 */
export function callerKey(caller: CallerContext): string[] {
  const clusterIds = caller.metadata.get('clusterid').map(String);
  if (caller.identity && caller.identity.subject !== 'unverified') return [caller.identity.subject, ...clusterIds];
  const token = caller.metadata.get('authorization').map(String).join(',');
  return [createHash('sha256').update(token).digest('base64url'), ...clusterIds];
}
