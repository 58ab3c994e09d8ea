import { ChannelCredentials, credentials } from '@grpc/grpc-js';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Observable, Subject, Subscription } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { TrustRoots } from '../discovery/trust-roots.js';

/** How the proxy authenticates istiod: a trusted root (file or ConfigMap), plaintext (15010), or explicitly none. */
@Injectable()
export class UpstreamCredentials implements OnModuleDestroy {
  private readonly logger = new Logger(UpstreamCredentials.name);
  private creds: ChannelCredentials;
  private readonly changedSubject = new Subject<void>();
  /** Emits when the trusted root rotated: channels should be re-dialled with current(). */
  readonly changed$: Observable<void> = this.changedSubject.asObservable();
  private readonly subscription = new Subscription();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    trust: TrustRoots,
  ) {
    if (config.upstreamPlaintext) {
      this.logger.warn('UPSTREAM_PLAINTEXT=true: talking to istiod without TLS (port 15010); tokens cross the network in clear');
      this.creds = credentials.createInsecure();
    } else if (!trust.current() && config.upstreamInsecure) {
      this.logger.warn('UPSTREAM_INSECURE=true: istiod certificates are NOT verified; use only for testing');
      this.creds = credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined });
    } else {
      this.creds = credentials.createSsl(trust.current() ?? null);
      let first = true;
      this.subscription.add(
        trust.roots$.subscribe((roots) => {
          if (first || !roots) return void (first = false);
          this.creds = credentials.createSsl(roots);
          this.changedSubject.next();
        }),
      );
      this.logger.log(`verifying istiod as ${this.serverName} against ${trust.describe()}`);
    }
  }

  current(): ChannelCredentials {
    return this.creds;
  }

  /** The name istiod's certificate must carry; we dial pod IPs, so SNI and :authority are overridden. */
  get serverName(): string {
    return this.config.upstreamServerName;
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }
}
