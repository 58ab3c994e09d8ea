import { Metadata } from '@grpc/grpc-js';

/** Caller metadata istiod needs: its token (identity and per-namespace filtering) and cluster id. */
export const FORWARDED_METADATA = ['authorization', 'clusterid'];

/**
 * The metadata sent upstream: only the FORWARDED_METADATA keys of the caller's, values unchanged,
 * except `clusterid` when the cluster that accepted the token is known: istiod must review the
 * token against that cluster, and istioctl sends none (the guard refused any other value).
 */
export function forwardedMetadata(incoming: Metadata, issuingClusterId?: string): Metadata {
  const outgoing = new Metadata();
  for (const key of FORWARDED_METADATA) {
    if (key === 'clusterid' && issuingClusterId) outgoing.add(key, issuingClusterId);
    else for (const value of incoming.get(key)) outgoing.add(key, value);
  }
  return outgoing;
}
