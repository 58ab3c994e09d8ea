import { Metadata } from '@grpc/grpc-js';

/** Caller metadata istiod needs: its token (identity and per-namespace filtering) and cluster id. */
export const FORWARDED_METADATA = ['authorization', 'clusterid'];

/** The metadata sent upstream: only the FORWARDED_METADATA keys of the caller's, values unchanged. */
export function forwardedMetadata(incoming: Metadata): Metadata {
  const outgoing = new Metadata();
  for (const key of FORWARDED_METADATA) {
    for (const value of incoming.get(key)) outgoing.add(key, value);
  }
  return outgoing;
}
