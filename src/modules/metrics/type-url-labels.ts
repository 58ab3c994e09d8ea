/** The type URLs istioctl sends and the built-in strategies merge: always their own label value. */
export const KNOWN_TYPE_URLS: readonly string[] = [
  'istio.io/debug/syncz',
  'istio.io/debug/config_dump',
  'istio.io/debug',
  'istio.io/connections',
];

/** The label value of every type URL that is neither known nor claimed by a merge plugin. */
export const OTHER_TYPE_URL = 'other';

/**
 * The `type_url` label comes from the caller, so it is bounded here: a known type URL, or one a
 * merge plugin names exactly (a finite set, checked by `isPluginTypeUrl`), keeps its value;
 * anything else is `other`. A made-up type URL per request then adds no series to /metrics.
 */
export class TypeUrlLabels {
  private readonly known = new Set(KNOWN_TYPE_URLS);
  private isPluginTypeUrl: (typeUrl: string) => boolean = () => false;

  /** Also keeps the type URLs `predicate` accepts; it must accept only finitely many (plugins' exact ones). */
  acceptPluginTypeUrls(predicate: (typeUrl: string) => boolean): void {
    this.isPluginTypeUrl = predicate;
  }

  label(typeUrl: string): string {
    return this.known.has(typeUrl) || this.isPluginTypeUrl(typeUrl) ? typeUrl : OTHER_TYPE_URL;
  }
}
