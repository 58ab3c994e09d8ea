import { Observable } from 'rxjs';
import { IstiodInstance } from './istiod-instance.js';

/**
 * Where istiod instances come from (static list, Kubernetes pods...). A source emits the full set of
 * ready instances every time it changes; the DiscoveryService sorts, de-duplicates and replays it.
 */
export abstract class InstanceSource {
  abstract readonly instances$: Observable<IstiodInstance[]>;
  /** Human description of what is watched, used in "no istiod instances discovered ..." errors. */
  abstract describe(): string;
}
