import { Inject, Injectable } from '@nestjs/common';
import { Observable, of } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { InstanceSource } from './instance-source.js';
import { IstiodInstance } from './istiod-instance.js';

/** DISCOVERY=static: the fixed ISTIOD_ADDRESSES list, emitted once. */
@Injectable()
export class StaticInstanceSource extends InstanceSource {
  readonly instances$: Observable<IstiodInstance[]>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    super();
    this.instances$ = of(config.staticInstances.map((spec) => ({ ...spec })));
  }

  describe(): string {
    return `static list ISTIOD_ADDRESSES (${this.config.staticInstances.length} entries)`;
  }
}
