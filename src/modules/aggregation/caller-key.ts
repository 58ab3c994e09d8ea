import { Metadata } from '@grpc/grpc-js';
import { CallerIdentity, tokenHash } from '../auth/caller-identity.js';
import { CallerContext } from './caller-context.js';

/** The subject NoneVerifier gives every caller (AUTH_MODE=none): it names nobody in particular. */
const UNVERIFIED_SUBJECT = 'unverified';

/**
 * Who the answer is for, as part of the coalescing key: istiod filters answers per caller, so
 * different callers must never share one. A verified subject when auth ran; otherwise
 * (AUTH_MODE=none) the token itself, hashed, since istiod will authorize each token separately.
 * The cluster is the one sent upstream: one subject (istio-system/default) exists in every cluster.
 */
export function callerKey(caller: CallerContext): string[] {
  const issuing = caller.identity?.clusterId;
  const clusterIds = issuing ? [issuing] : caller.metadata.get('clusterid').map(String);
  if (isVerified(caller.identity)) return [caller.identity.subject, ...clusterIds];
  return [authorizationHash(caller.metadata), ...clusterIds];
}

/**
 * The caller as MAX_STREAMS_PER_CALLER counts it: the verified subject (of its issuing cluster, since
 * one ServiceAccount such as istio-system/default exists in every cluster); with AUTH_MODE=none a
 * hash of the token, so unverified callers do not all share one bucket. Shown in the limit's error,
 * so it never contains the token.
 */
export function limitKey(identity: CallerIdentity | undefined, metadata: Metadata): string {
  if (!isVerified(identity)) return `unverified token ${authorizationHash(metadata).slice(0, 16)}`;
  return identity.clusterId ? `${identity.subject} of cluster ${identity.clusterId}` : identity.subject;
}

function isVerified(identity: CallerIdentity | undefined): identity is CallerIdentity {
  return identity !== undefined && identity.subject !== UNVERIFIED_SUBJECT;
}

function authorizationHash(metadata: Metadata): string {
  return tokenHash(metadata.get('authorization').map(String).join(','));
}
