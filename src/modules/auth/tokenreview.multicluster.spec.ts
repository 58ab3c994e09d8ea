import { describe, expect, it } from 'vitest';
import { multiClusterHarness, NOW_S, ScriptedCluster, settle, SUBJECT } from '../../../test/kit/scripted-clusters.js';
import { AuthClusters } from './auth-clusters.js';
import { TokenRejected, TokenUnverifiable, VerifierUnavailable } from './caller-identity.js';

// One token, reviewed by every known cluster at once: who answers, and what the verdict says. What the
// verifier remembers between calls: tokenreview.multicluster.memory.spec.ts.

describe('TokenReviewVerifier with several clusters', () => {
  const h = multiClusterHarness();

  it('asks every cluster at once, without waiting for the first to answer', async () => {
    const jwt = await h.token();
    const pending = h.verifier().verify(jwt);
    await settle();
    expect(h.east.asked).toEqual([jwt]);
    expect(h.west.asked).toEqual([jwt]);
    h.west.accept();
    h.east.refuse();
    await expect(pending).resolves.toMatchObject({ subject: SUBJECT, clusterId: 'west' });
  });

  it('takes the first cluster that accepts, without waiting for the slower ones', async () => {
    const pending = h.verifier().verify(await h.token());
    await settle();
    h.west.accept(); // east never answers
    await expect(pending).resolves.toEqual({
      subject: SUBJECT,
      namespace: 'istio-system',
      serviceAccount: 'default',
      expiresAtMs: (NOW_S + 600) * 1000,
      clusterId: 'west',
    });
  });

  it('names every cluster reason when none accepts', async () => {
    const pending = h.verifier().verify(await h.token());
    await settle();
    h.east.refuse('token rejected by the Kubernetes API: invalid bearer token');
    h.west.refuse('token could not be verified: TokenReview failed (500)');
    await expect(pending).rejects.toEqual(
      new TokenRejected(
        'token rejected by all 2 known clusters (east: token rejected by the Kubernetes API: invalid bearer token; ' +
          'west: token could not be verified: TokenReview failed (500))',
      ),
    );
  });

  it('names at most five clusters in a rejection', async () => {
    const many = Array.from({ length: 7 }, (_, i) => new ScriptedCluster(`c${i}`));
    h.clusters = new AuthClusters({ maxClusters: 10 });
    many.forEach((cluster) => h.clusters.set(cluster.asCluster()));
    const pending = h.verifier().verify(await h.token());
    await settle();
    many.forEach((cluster) => cluster.refuse('no'));
    await expect(pending).rejects.toEqual(
      new TokenRejected('token rejected by all 7 known clusters (c0: no; c1: no; c2: no; c3: no; c4: no; and 2 more)'),
    );
  });

  it('refuses every token while no cluster is known', async () => {
    h.clusters = new AuthClusters({ maxClusters: 10 });
    await expect(h.verifier().verify(await h.token())).rejects.toEqual(
      new TokenUnverifiable('token could not be verified: no cluster is known to review tokens'),
    );
  });

  describe('a cluster that does not answer (TOKENREVIEW_TIMEOUT_MS)', () => {
    it('does not hold up an accept by another cluster', async () => {
      const pending = h.verifier().verify(await h.token());
      await settle();
      h.east.accept(); // west is still silent
      await expect(pending).resolves.toMatchObject({ clusterId: 'east' });
      h.west.timeOut();
    });

    it('makes the verdict "unavailable", naming it, when no other cluster accepted', async () => {
      const pending = h.verifier().verify(await h.token());
      await settle();
      h.east.refuse('token rejected by the Kubernetes API: invalid bearer token');
      h.west.timeOut();
      await expect(pending).rejects.toEqual(
        new VerifierUnavailable(
          'no known cluster accepted the token and 1 of 2 did not answer (east: token rejected by the Kubernetes API: invalid bearer token; ' +
            'west: TokenReview at https://west.example:6443 (cluster west) did not answer within 500 ms (TOKENREVIEW_TIMEOUT_MS))',
        ),
      );
    });
  });

  it('never asks a cluster beyond AUTH_MAX_CLUSTERS', async () => {
    h.clusters = new AuthClusters({ maxClusters: 2 });
    const third = new ScriptedCluster('third');
    expect(h.clusters.set(h.east.asCluster())).toBe(true);
    expect(h.clusters.set(h.west.asCluster())).toBe(true);
    expect(h.clusters.set(third.asCluster())).toBe(false);
    expect(h.clusters.set(new ScriptedCluster('west').asCluster())).toBe(true); // replacing fits
    expect(h.clusters.all().map((cluster) => cluster.id)).toEqual(['east', 'west']);
    const pending = h.verifier().verify(await h.token());
    await settle();
    expect(third.asked).toEqual([]);
    h.east.accept();
    await expect(pending).resolves.toMatchObject({ clusterId: 'east' });
  });
});
