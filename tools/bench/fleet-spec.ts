/** What the runner asks the istiod fleet process for, and what the fleet reports back. */

/** `count` sidecars named `<prefix>-<n>-…` in `namespace` (mesh-fixtures `generateProxies`). */
export interface ProxyGroupSpec {
  prefix: string;
  namespace: string;
  count: number;
}

export interface IstiodSpec {
  name: string;
  /** knobs.delayMs: how long this replica waits before each answer. */
  delayMs: number;
  /** Groups with the same prefix/namespace/count are generated once and shared between replicas. */
  proxyGroups: ProxyGroupSpec[];
}

export interface FleetSpec {
  istiods: IstiodSpec[];
  /** PEM files of the serving certificate every simulated istiod presents. */
  tls: { certFile: string; keyFile: string };
  /** Build each distinct answer once and replay it (memoized-istiod.ts explains why the bench does). */
  memoizeAnswers: boolean;
}

export interface FleetInfo {
  istiods: Array<{ name: string; address: string; proxies: number }>;
}

/** Requests each replica has received so far, per type URL: `{ [istiod]: { [typeUrl]: n } }`. */
export type RequestCounts = Record<string, Record<string, number>>;

export const FLEET_COMMANDS = { requestCounts: 'requestCounts' } as const;

/** How many requests of `typeUrl` each replica received between two snapshots. */
export function requestsBetween(before: RequestCounts, after: RequestCounts, typeUrl: string): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, counts] of Object.entries(after)) delta[name] = (counts[typeUrl] ?? 0) - (before[name]?.[typeUrl] ?? 0);
  return delta;
}
