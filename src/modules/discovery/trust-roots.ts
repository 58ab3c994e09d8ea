import { Observable } from 'rxjs';

/**
 * The CA bundle that verifies istiod's serving certificate, as it changes over time. Discovery owns
 * it (it may come from the cluster); aggregation only consumes it for new channels.
 */
export abstract class TrustRoots {
  /** Emits the current PEM bundle, then each rotation; undefined means "no verification configured". */
  abstract readonly roots$: Observable<Buffer | undefined>;
  abstract current(): Buffer | undefined;
  abstract describe(): string;
}
