import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { beforeAll } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { AuthCluster, AuthClusters } from '../../src/modules/auth/auth-clusters.js';
import {
  CallerIdentity,
  TokenRejected,
  TokenUnverifiable,
  VerifierUnavailable,
  identityFromSubject,
} from '../../src/modules/auth/caller-identity.js';
import { TokenReviewer } from '../../src/modules/auth/cluster-token-review.js';
import { TokenReviewVerifier } from '../../src/modules/auth/tokenreview.verifier.js';
import { renewBeforeEach } from './renew-before-each.js';

// What the multi-cluster TokenReview specs (src/modules/auth/tokenreview.multicluster*.spec.ts,
// auth-clusters.spec.ts) share: clusters whose API servers answer when the test says, and a verifier
// over two of them (east, west).

export const NOW_S = 1_800_000_000;
export const SUBJECT = 'system:serviceaccount:istio-system:default';

/** One cluster's API server, replaced: answers when the test says, and records what it was asked. */
export class ScriptedCluster implements TokenReviewer {
  readonly asked: string[] = [];
  private pending: { resolve: (identity: CallerIdentity) => void; reject: (err: Error) => void }[] = [];

  constructor(readonly id: string) {}

  review(token: string, exp: number | undefined): Promise<CallerIdentity> {
    this.asked.push(token);
    return new Promise((resolve, reject) => {
      this.pending.push({
        resolve: (identity) => resolve({ ...identity, expiresAtMs: exp ? exp * 1000 : undefined, clusterId: this.id }),
        reject,
      });
    });
  }

  accept(): void {
    for (const { resolve } of this.pending.splice(0)) resolve(identityFromSubject(SUBJECT));
  }

  refuse(reason = 'token rejected by the Kubernetes API'): void {
    for (const { reject } of this.pending.splice(0)) reject(new TokenRejected(reason));
  }

  /** What ClusterTokenReview throws once TOKENREVIEW_TIMEOUT_MS has passed without an answer. */
  timeOut(): void {
    const reason = `TokenReview at https://${this.id}.example:6443 (cluster ${this.id}) did not answer within 500 ms (TOKENREVIEW_TIMEOUT_MS)`;
    for (const { reject } of this.pending.splice(0)) reject(new VerifierUnavailable(reason));
  }

  fail(): void {
    for (const { reject } of this.pending.splice(0)) reject(new TokenUnverifiable('token could not be verified: TokenReview failed (500)'));
  }

  asCluster(): AuthCluster {
    return { id: this.id, source: 'static', origin: 'AUTH_CLUSTERS', reviewer: this };
  }
}

/** Lets pending promise callbacks run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface MultiClusterHarness {
  /** Fresh per test, at NOW_S. */
  readonly clock: ManualClock;
  /** Fresh per test (AUTH_MAX_CLUSTERS=10) with east and west; a test may replace it before building its verifier. */
  clusters: AuthClusters;
  readonly east: ScriptedCluster;
  readonly west: ScriptedCluster;
  /** A signed ServiceAccount token of SUBJECT, valid for 600 s from NOW_S. */
  readonly token: (jti?: string) => Promise<string>;
  /** A TokenReviewVerifier over the current `clusters`, audience istio-ca. */
  readonly verifier: () => TokenReviewVerifier;
}

/** Call inside a describe(): signs with one key for the whole file and renews the clusters before each test. */
export function multiClusterHarness(): MultiClusterHarness {
  let key: CryptoKey;

  beforeAll(async () => {
    key = (await generateKeyPair('RS256')).privateKey;
  });
  const harness: MultiClusterHarness = renewBeforeEach(
    {
      token: (jti = 'a') => new SignJWT({ sub: SUBJECT, iat: NOW_S, exp: NOW_S + 600, jti }).setProtectedHeader({ alg: 'RS256' }).sign(key),
      verifier: () => new TokenReviewVerifier({ clusters: harness.clusters, audiences: ['istio-ca'], clock: harness.clock }),
    },
    () => {
      const clusters = new AuthClusters({ maxClusters: 10 });
      const east = new ScriptedCluster('east');
      const west = new ScriptedCluster('west');
      clusters.set(east.asCluster());
      clusters.set(west.asCluster());
      return { clock: new ManualClock(NOW_S * 1000), clusters, east, west };
    },
  );
  return harness;
}
