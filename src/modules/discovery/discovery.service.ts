import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { BehaviorSubject, Observable, ReplaySubject, Subscription, distinctUntilChanged, map } from 'rxjs';
import { InstanceSource } from './instance-source.js';
import { IstiodInstance, byName, sameInstances } from './istiod-instance.js';

/**
 * The one place the rest of the proxy learns about istiod instances. `instances$` replays the latest
 * set, sorted by name so "first" means the same replica on every request.
 */
@Injectable()
export class DiscoveryService implements OnModuleDestroy {
  readonly instances$: Observable<IstiodInstance[]>;
  private readonly latest = new ReplaySubject<IstiodInstance[]>(1);
  private readonly syncedSubject = new BehaviorSubject<boolean>(false);
  private current: IstiodInstance[] = [];
  private readonly subscription: Subscription;

  constructor(private readonly source: InstanceSource) {
    this.instances$ = this.latest.asObservable();
    this.subscription = source.instances$
      .pipe(
        map((instances) => [...instances].sort(byName)),
        distinctUntilChanged<IstiodInstance[]>(sameInstances),
      )
      .subscribe({
        next: (instances) => {
          this.current = instances;
          this.latest.next(instances);
          this.syncedSubject.next(true);
        },
        error: (err: unknown) => this.latest.error(err),
      });
  }

  /** The latest set, without subscribing (empty before the first sync). */
  snapshot(): IstiodInstance[] {
    return this.current;
  }

  /** True once the source has delivered at least one set. */
  get synced(): boolean {
    return this.syncedSubject.value;
  }

  describeScope(): string {
    return this.source.describe();
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }
}
