import { readFileSync } from 'node:fs';
import { BehaviorSubject, Observable } from 'rxjs';
import { ConfigError } from '../../config/config.error.js';
import { TrustRoots } from './trust-roots.js';

/** UPSTREAM_CA_FILE, read once at start; none when UPSTREAM_INSECURE / UPSTREAM_PLAINTEXT apply. */
export class FileTrustRoots extends TrustRoots {
  private readonly subject: BehaviorSubject<Buffer | undefined>;
  readonly roots$: Observable<Buffer | undefined>;

  constructor(private readonly path?: string) {
    super();
    let pem: Buffer | undefined;
    if (path) {
      try {
        pem = readFileSync(path);
      } catch (err) {
        throw new ConfigError('UPSTREAM_CA_FILE', `=${path} cannot be read: ${(err as Error).message}`);
      }
    }
    this.subject = new BehaviorSubject(pem);
    this.roots$ = this.subject.asObservable();
  }

  current(): Buffer | undefined {
    return this.subject.value;
  }

  describe(): string {
    return this.path ? `UPSTREAM_CA_FILE ${this.path}` : 'none';
  }
}
