import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock.js';
import { AuthCluster, AuthClusters } from './auth-clusters.js';
import { CallerIdentity, TokenRejected, TokenUnverifiable, VerifierUnavailable, identityFromSubject } from './caller-identity.js';
import { TokenReviewer } from './cluster-token-review.js';
import { TokenReviewVerifier } from './tokenreview.verifier.js';

const NOW_S = 1_800_000_000;
const SUBJECT = 'system:serviceaccount:istio-system:default';

/** One cluster's API server, replaced: answers when the test says, and records what it was asked. */
class ScriptedCluster implements TokenReviewer {
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
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TokenReviewVerifier with several clusters', () => {
  let key: CryptoKey;
  let clock: ManualClock;
  let clusters: AuthClusters;
  let east: ScriptedCluster;
  let west: ScriptedCluster;

  beforeAll(async () => {
    key = (await generateKeyPair('RS256')).privateKey;
  });
  beforeEach(() => {
    clock = new ManualClock(NOW_S * 1000);
    clusters = new AuthClusters({ maxClusters: 10 });
    east = new ScriptedCluster('east');
    west = new ScriptedCluster('west');
    clusters.set(east.asCluster());
    clusters.set(west.asCluster());
  });

  const token = (jti = 'a') =>
    new SignJWT({ sub: SUBJECT, iat: NOW_S, exp: NOW_S + 600, jti }).setProtectedHeader({ alg: 'RS256' }).sign(key);
  const verifier = () => new TokenReviewVerifier({ clusters, audiences: ['istio-ca'], clock });

  it('asks every cluster at once, without waiting for the first to answer', async () => {
    const jwt = await token();
    const pending = verifier().verify(jwt);
    await settle();
    expect(east.asked).toEqual([jwt]);
    expect(west.asked).toEqual([jwt]);
    west.accept();
    east.refuse();
    await expect(pending).resolves.toMatchObject({ subject: SUBJECT, clusterId: 'west' });
  });

  it('takes the first cluster that accepts, without waiting for the slower ones', async () => {
    const pending = verifier().verify(await token());
    await settle();
    west.accept(); // east never answers
    await expect(pending).resolves.toEqual({
      subject: SUBJECT,
      namespace: 'istio-system',
      serviceAccount: 'default',
      expiresAtMs: (NOW_S + 600) * 1000,
      clusterId: 'west',
    });
  });

  it('names every cluster reason when none accepts', async () => {
    const pending = verifier().verify(await token());
    await settle();
    east.refuse('token rejected by the Kubernetes API: invalid bearer token');
    west.refuse('token could not be verified: TokenReview failed (500)');
    await expect(pending).rejects.toEqual(
      new TokenRejected(
        'token rejected by all 2 known clusters (east: token rejected by the Kubernetes API: invalid bearer token; ' +
          'west: token could not be verified: TokenReview failed (500))',
      ),
    );
  });

  it('names at most five clusters in a rejection', async () => {
    const many = Array.from({ length: 7 }, (_, i) => new ScriptedCluster(`c${i}`));
    clusters = new AuthClusters({ maxClusters: 10 });
    many.forEach((cluster) => clusters.set(cluster.asCluster()));
    const pending = verifier().verify(await token());
    await settle();
    many.forEach((cluster) => cluster.refuse('no'));
    await expect(pending).rejects.toEqual(
      new TokenRejected('token rejected by all 7 known clusters (c0: no; c1: no; c2: no; c3: no; c4: no; and 2 more)'),
    );
  });

  it('caches the identity with the cluster that accepted it, until the token expires', async () => {
    const sut = verifier();
    const jwt = await token();
    const first = sut.verify(jwt);
    await settle();
    west.accept();
    east.refuse();
    await first;
    await expect(sut.verify(jwt)).resolves.toMatchObject({ clusterId: 'west' });
    expect([east.asked.length, west.asked.length]).toEqual([1, 1]);
    clock.advance(600_000);
    await expect(sut.verify(jwt)).rejects.toEqual(new TokenRejected('token expired'));
  });

  it('reviews again once the cluster that accepted is removed or replaced', async () => {
    const sut = verifier();
    const jwt = await token();
    const first = sut.verify(jwt);
    await settle();
    west.accept();
    east.refuse();
    await first;

    const replacement = new ScriptedCluster('west');
    clusters.set(replacement.asCluster()); // e.g. its remote secret changed
    const second = sut.verify(jwt);
    await settle();
    expect(replacement.asked).toEqual([jwt]);
    replacement.accept();
    east.refuse();
    await expect(second).resolves.toMatchObject({ clusterId: 'west' });

    clusters.delete('west'); // its remote secret was deleted
    const third = sut.verify(jwt);
    await settle();
    east.refuse('token rejected by the Kubernetes API');
    await expect(third).rejects.toEqual(new TokenRejected('token rejected by the Kubernetes API'));
  });

  it('shares one review among concurrent callers with one token', async () => {
    const sut = verifier();
    const jwt = await token();
    const all = Promise.all(Array.from({ length: 5 }, () => sut.verify(jwt)));
    await settle();
    east.accept();
    west.refuse();
    expect((await all).map((identity) => identity.clusterId)).toEqual(['east', 'east', 'east', 'east', 'east']);
    expect(east.asked).toHaveLength(1);
  });

  it('refuses every token while no cluster is known', async () => {
    clusters = new AuthClusters({ maxClusters: 10 });
    await expect(verifier().verify(await token())).rejects.toEqual(
      new TokenUnverifiable('token could not be verified: no cluster is known to review tokens'),
    );
  });

  describe('a cluster that does not answer (TOKENREVIEW_TIMEOUT_MS)', () => {
    it('does not hold up an accept by another cluster', async () => {
      const pending = verifier().verify(await token());
      await settle();
      east.accept(); // west is still silent
      await expect(pending).resolves.toMatchObject({ clusterId: 'east' });
      west.timeOut();
    });

    it('makes the verdict "unavailable", naming it, when no other cluster accepted', async () => {
      const pending = verifier().verify(await token());
      await settle();
      east.refuse('token rejected by the Kubernetes API: invalid bearer token');
      west.timeOut();
      await expect(pending).rejects.toEqual(
        new VerifierUnavailable(
          'no known cluster accepted the token and 1 of 2 did not answer (east: token rejected by the Kubernetes API: invalid bearer token; ' +
            'west: TokenReview at https://west.example:6443 (cluster west) did not answer within 500 ms (TOKENREVIEW_TIMEOUT_MS))',
        ),
      );
    });
  });

  describe('rejected tokens, remembered', () => {
    const refusedByBoth = async (sut: TokenReviewVerifier, jwt: string) => {
      const pending = sut.verify(jwt);
      await settle();
      east.refuse();
      west.refuse();
      await expect(pending).rejects.toBeInstanceOf(TokenRejected);
    };

    it('refuses a token every cluster rejected without asking again', async () => {
      const sut = verifier();
      const jwt = await token();
      await refusedByBoth(sut, jwt);
      await expect(sut.verify(jwt)).rejects.toEqual(
        new TokenRejected(
          'token rejected by all 2 known clusters (east: token rejected by the Kubernetes API; west: token rejected by the Kubernetes API)',
        ),
      );
      expect([east.asked.length, west.asked.length]).toEqual([1, 1]);
    });

    it('asks again once the set of clusters changed: a new cluster may accept it', async () => {
      const sut = verifier();
      const jwt = await token();
      await refusedByBoth(sut, jwt);
      const north = new ScriptedCluster('north');
      clusters.set(north.asCluster()); // e.g. its remote secret was added
      const again = sut.verify(jwt);
      await settle();
      north.accept();
      await expect(again).resolves.toMatchObject({ clusterId: 'north' });
    });

    it.each([
      ['did not answer', (cluster: ScriptedCluster) => cluster.timeOut(), VerifierUnavailable],
      ['failed', (cluster: ScriptedCluster) => cluster.fail(), TokenUnverifiable],
    ])('remembers nothing when a cluster %s', async (_, misbehave, failure) => {
      const sut = verifier();
      const jwt = await token();
      const first = sut.verify(jwt).catch((err: unknown) => err);
      await settle();
      east.refuse();
      misbehave(west);
      expect(await first).toBeInstanceOf(failure);
      const second = sut.verify(jwt);
      await settle();
      expect([east.asked.length, west.asked.length]).toEqual([2, 2]);
      west.accept();
      east.refuse();
      await expect(second).resolves.toMatchObject({ clusterId: 'west' });
    });
  });

  it('never asks a cluster beyond AUTH_MAX_CLUSTERS', async () => {
    clusters = new AuthClusters({ maxClusters: 2 });
    const third = new ScriptedCluster('third');
    expect(clusters.set(east.asCluster())).toBe(true);
    expect(clusters.set(west.asCluster())).toBe(true);
    expect(clusters.set(third.asCluster())).toBe(false);
    expect(clusters.set(new ScriptedCluster('west').asCluster())).toBe(true); // replacing fits
    expect(clusters.all().map((cluster) => cluster.id)).toEqual(['east', 'west']);
    const pending = verifier().verify(await token());
    await settle();
    expect(third.asked).toEqual([]);
    east.accept();
    await expect(pending).resolves.toMatchObject({ clusterId: 'east' });
  });
});

describe('AuthClusters', () => {
  it('reports the number of clusters per source after every change', () => {
    const reported: Record<string, number>[] = [];
    const sut = new AuthClusters({ maxClusters: 3, onChange: (counts) => reported.push(counts) });
    const reviewer = new ScriptedCluster('x');
    sut.set({ id: 'home', source: 'static', origin: 'AUTH_KUBECONFIG', reviewer });
    sut.set({ id: 'west', source: 'remote-secret', origin: 'Secret istio-system/west', reviewer });
    sut.delete('west');
    sut.delete('west');
    expect(reported).toEqual([
      { static: 1, 'remote-secret': 0 },
      { static: 1, 'remote-secret': 1 },
      { static: 1, 'remote-secret': 0 },
    ]);
  });

  it('stops what keeps it up to date with the app', () => {
    const sut = new AuthClusters({ maxClusters: 1 });
    let stopped = 0;
    sut.addStopper(() => stopped++);
    sut.onModuleDestroy();
    sut.onModuleDestroy();
    expect(stopped).toBe(1);
  });
});
