import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ReloadableServerCredentials } from '../../adapters/grpc-js.adapter.js';
import { Clock, SystemClock } from '../../common/clock.js';
import { renewalDelayMs } from './self-signed-identity.js';
import { describeCertificate, secureContextOptions, type ServingIdentity } from './serving-material.js';
import { toTlsMaterial, type TlsMaterial, type WatchedFile } from './tls-material.js';
import { FilePoller, type FileRead } from './watched-files.js';

export interface ServingLogger {
  log(message: string): void;
  warn(message: string): void;
}

export interface TlsReloaderOptions {
  initial: TlsMaterial;
  /** Re-read every refreshIntervalMs; empty when nothing comes from files. */
  files: WatchedFile[];
  /** The read `initial` was built from, so only later changes count as rotation. */
  initialReads: FileRead[];
  refreshIntervalMs: number;
  /** Set for the self-signed identity, which is replaced before it expires. */
  regenerate?: () => Promise<ServingIdentity>;
  logger: ServingLogger;
  /** What certificate lifetimes are measured against; the system clock unless a spec sets one. */
  clock?: Clock;
}

/**
 * Owns the serving credentials and swaps in new material when the files change or the self-signed
 * certificate is renewed. Only validated material is ever handed to grpc-js: a bad rotation is logged
 * and the previous certificate keeps serving.
 */
export class TlsReloader {
  readonly credentials: ReloadableServerCredentials;
  private current: TlsMaterial;
  private readonly poller?: FilePoller;
  private renewal?: NodeJS.Timeout;
  private closed = false;
  private readonly clock: Clock;

  constructor(private readonly options: TlsReloaderOptions) {
    this.current = options.initial;
    this.clock = options.clock ?? new SystemClock();
    const serverOptions = {
      // Fixed for the listener's lifetime: whether client certificates are demanded cannot change on reload.
      requestCert: options.initial.clientCa !== undefined,
      rejectUnauthorized: true,
    };
    this.credentials = new ReloadableServerCredentials(serverOptions, contextOptions(options.initial));
    if (options.files.length > 0) {
      this.poller = new FilePoller({
        paths: options.files.map((file) => file.path),
        intervalMs: options.refreshIntervalMs,
        initial: options.initialReads,
        onChange: (reads) => this.filesChanged(reads),
      });
    }
    this.scheduleRenewal();
  }

  close(): void {
    this.closed = true;
    this.poller?.close();
    clearTimeout(this.renewal);
  }

  private filesChanged(reads: FileRead[]): void {
    try {
      this.apply(toTlsMaterial(this.options.files, reads, this.current.identity));
    } catch (err) {
      this.options.logger.warn(
        `TLS files changed but cannot be used; still serving ${describeCertificate(this.current.identity.leaf)}: ${(err as Error).message}`,
      );
    }
  }

  private apply(next: TlsMaterial): void {
    const options = contextOptions(next);
    const previous = this.current;
    this.current = next;
    this.credentials.replace(options);
    if (next.identity.leaf.fingerprint256 !== previous.identity.leaf.fingerprint256) {
      this.options.logger.log(
        `serving ${describeCertificate(next.identity.leaf)} to new connections; open ones keep the previous certificate`,
      );
    }
    if (next.clientCa && next.clientCa.pem !== previous.clientCa?.pem) {
      this.options.logger.log(`reloaded TLS_CLIENT_CA_FILE: ${next.clientCa.count} CA certificate(s)`);
    }
  }

  private scheduleRenewal(): void {
    const regenerate = this.options.regenerate;
    if (!regenerate || this.closed) return;
    this.renewal = setTimeout(() => void this.renew(regenerate), renewalDelayMs(this.current.identity, this.clock.now()));
    this.renewal.unref();
  }

  private async renew(regenerate: () => Promise<ServingIdentity>): Promise<void> {
    try {
      const identity = await regenerate();
      if (!this.closed) this.apply({ ...this.current, identity });
    } catch (err) {
      this.options.logger.warn(
        `could not renew the self-signed certificate; still serving ${describeCertificate(this.current.identity.leaf)}: ${(err as Error).message}`,
      );
    }
    this.scheduleRenewal();
  }
}

/** Built and test-loaded here, because grpc-js answers a failing setSecureContext by refusing every new connection. */
function contextOptions(material: TlsMaterial): SecureContextOptions {
  const options = secureContextOptions(material.identity, material.clientCa);
  createSecureContext(options);
  return options;
}
