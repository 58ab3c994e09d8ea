/**
 * The same proxy (same cluster, same id) reported by two replicas is one proxy that reconnected:
 * the old replica still holds its dead connection for a while. This picks the live copy
 * (docs/protocol.md §5.5), for syncz ClientConfigs and `istio.io/debug` syncz entries alike.
 */

/** What the rule looks at in one copy. */
export interface CopyFacts {
  /** Some type is STALE (pushed, never acknowledged): the pushes went to a dead connection. */
  stale: boolean;
  /** The newest push to this copy, ms since epoch; 0 when unknown. */
  lastUpdatedMs: number;
}

/** Which step of the rule decided between a proxy's copies. */
export type LiveCopyRule = 'non-stale' | 'newest' | 'first';

/**
 * `copies` are in replica (pod-name) order. A copy without STALE beats one with; then the newest
 * push wins; then the first replica's copy. `rule` is the step that beat the closest other copy.
 */
export function pickLiveCopy<T extends CopyFacts>(copies: readonly T[]): { winner: T; rule: LiveCopyRule } {
  let winner = copies[0];
  // Nearly every proxy has one copy, and syncz answers hold thousands: no allocation for those.
  if (copies.length === 1) return { winner, rule: 'non-stale' };
  for (let i = 1; i < copies.length; i++) if (isMoreLive(copies[i], winner)) winner = copies[i];
  const rivals = copies.filter((copy) => copy !== winner && copy.stale === winner.stale);
  if (rivals.length === 0) return { winner, rule: 'non-stale' };
  return { winner, rule: rivals.every((copy) => copy.lastUpdatedMs < winner.lastUpdatedMs) ? 'newest' : 'first' };
}

function isMoreLive(candidate: CopyFacts, current: CopyFacts): boolean {
  if (candidate.stale !== current.stale) return !candidate.stale;
  return candidate.lastUpdatedMs > current.lastUpdatedMs;
}

/** Counts resolved duplicates by rule, for one log line per merge. */
export class LiveCopyTally {
  private readonly counts: Record<LiveCopyRule, number> = { 'non-stale': 0, newest: 0, first: 0 };

  /** Resolves one proxy's copies and counts the decision when there was more than one. */
  resolve<T extends CopyFacts>(copies: readonly T[]): T {
    const { winner, rule } = pickLiveCopy(copies);
    if (copies.length > 1) this.counts[rule]++;
    return winner;
  }

  /**
   * `syncz: 3 proxies reported by more than one istiod: 2 kept the non-STALE copy, 1 kept the newest
   * last_updated, 0 tie → first replica`, or undefined when there were no duplicates.
   */
  describe(label: string, newestWhat: string): string | undefined {
    const { 'non-stale': nonStale, newest, first } = this.counts;
    const total = nonStale + newest + first;
    if (total === 0) return undefined;
    return (
      `${label}: ${total} ${total === 1 ? 'proxy' : 'proxies'} reported by more than one istiod: ` +
      `${nonStale} kept the non-STALE copy, ${newest} kept the newest ${newestWhat}, ${first} tie → first replica`
    );
  }
}
