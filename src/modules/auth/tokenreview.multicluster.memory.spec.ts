import { describe, expect, it } from 'vitest';
import { multiClusterHarness, ScriptedCluster, settle } from '../../../test/kit/scripted-clusters.js';
import { TokenRejected, TokenUnverifiable, VerifierUnavailable } from './caller-identity.js';
import { TokenReviewVerifier } from './tokenreview.verifier.js';

// What the verifier remembers between calls across several clusters: accepted identities (with the
// cluster that accepted them), reviews in flight, and tokens every cluster rejected.

describe('TokenReviewVerifier with several clusters', () => {
  const h = multiClusterHarness();

  /** The outcome (identity or error) of verifying `jwt` while the clusters answer as `answer` says. */
  const review = async (sut: TokenReviewVerifier, jwt: string, answer: () => void): Promise<unknown> => {
    const pending = sut.verify(jwt).catch((err: unknown) => err);
    await settle();
    answer();
    return pending;
  };
  const westAccepts = () => {
    h.west.accept();
    h.east.refuse();
  };

  it('caches the identity with the cluster that accepted it, until the token expires', async () => {
    const sut = h.verifier();
    const jwt = await h.token();
    expect(await review(sut, jwt, westAccepts)).toMatchObject({ clusterId: 'west' });
    await expect(sut.verify(jwt)).resolves.toMatchObject({ clusterId: 'west' });
    expect([h.east.asked.length, h.west.asked.length]).toEqual([1, 1]);
    h.clock.advance(600_000);
    await expect(sut.verify(jwt)).rejects.toEqual(new TokenRejected('token expired'));
  });

  it('reviews again once the cluster that accepted is removed or replaced', async () => {
    const sut = h.verifier();
    const jwt = await h.token();
    expect(await review(sut, jwt, westAccepts)).toMatchObject({ clusterId: 'west' });

    const replacement = new ScriptedCluster('west');
    h.clusters.set(replacement.asCluster()); // e.g. its remote secret changed
    const second = sut.verify(jwt);
    await settle();
    expect(replacement.asked).toEqual([jwt]);
    replacement.accept();
    h.east.refuse();
    await expect(second).resolves.toMatchObject({ clusterId: 'west' });

    h.clusters.delete('west'); // its remote secret was deleted
    const third = sut.verify(jwt);
    await settle();
    h.east.refuse('token rejected by the Kubernetes API');
    await expect(third).rejects.toEqual(new TokenRejected('token rejected by the Kubernetes API'));
  });

  it('shares one review among concurrent callers with one token', async () => {
    const sut = h.verifier();
    const jwt = await h.token();
    const all = Promise.all(Array.from({ length: 5 }, () => sut.verify(jwt)));
    await settle();
    h.east.accept();
    h.west.refuse();
    expect((await all).map((identity) => identity.clusterId)).toEqual(['east', 'east', 'east', 'east', 'east']);
    expect(h.east.asked).toHaveLength(1);
  });

  describe('rejected tokens, remembered', () => {
    const refusedByBoth = async (sut: TokenReviewVerifier, jwt: string) => {
      const bothRefuse = () => {
        h.east.refuse();
        h.west.refuse();
      };
      expect(await review(sut, jwt, bothRefuse)).toBeInstanceOf(TokenRejected);
    };

    it('refuses a token every cluster rejected without asking again', async () => {
      const sut = h.verifier();
      const jwt = await h.token();
      await refusedByBoth(sut, jwt);
      await expect(sut.verify(jwt)).rejects.toEqual(
        new TokenRejected(
          'token rejected by all 2 known clusters (east: token rejected by the Kubernetes API; west: token rejected by the Kubernetes API)',
        ),
      );
      expect([h.east.asked.length, h.west.asked.length]).toEqual([1, 1]);
    });

    it('asks again once the set of clusters changed: a new cluster may accept it', async () => {
      const sut = h.verifier();
      const jwt = await h.token();
      await refusedByBoth(sut, jwt);
      const north = new ScriptedCluster('north');
      h.clusters.set(north.asCluster()); // e.g. its remote secret was added
      expect(await review(sut, jwt, () => north.accept())).toMatchObject({ clusterId: 'north' });
    });

    it.each([
      ['did not answer', (cluster: ScriptedCluster) => cluster.timeOut(), VerifierUnavailable],
      ['failed', (cluster: ScriptedCluster) => cluster.fail(), TokenUnverifiable],
    ])('remembers nothing when a cluster %s', async (_, misbehave, failure) => {
      const sut = h.verifier();
      const jwt = await h.token();
      const first = review(sut, jwt, () => {
        h.east.refuse();
        misbehave(h.west);
      });
      expect(await first).toBeInstanceOf(failure);
      const second = sut.verify(jwt);
      await settle();
      expect([h.east.asked.length, h.west.asked.length]).toEqual([2, 2]);
      westAccepts();
      await expect(second).resolves.toMatchObject({ clusterId: 'west' });
    });
  });
});
