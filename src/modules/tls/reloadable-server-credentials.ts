import { ServerCredentials } from '@grpc/grpc-js';
import type { SecureServerOptions } from 'node:http2';
import type { SecureContextOptions } from 'node:tls';

/**
 * TLS server credentials whose certificate can be swapped while serving. grpc-js registers a watcher
 * per listening socket and calls `setSecureContext` with what we pass, which changes the certificate
 * for new handshakes only: established connections and their streams keep the context they started with.
 *
 * grpc-js's own FileWatcherCertificateProvider is not used because it publishes `null` whenever a read
 * fails and grpc-js then drops every new connection until the files are good again; it also cannot
 * validate at startup and serves nothing until its first asynchronous read completes.
 */
export class ReloadableServerCredentials extends ServerCredentials {
  constructor(serverOptions: SecureServerOptions, initial: SecureContextOptions) {
    super(serverOptions, initial);
  }

  /** Callers must pass only options already validated: grpc-js treats a failure here as "refuse everyone". */
  replace(options: SecureContextOptions): void {
    this.updateSecureContextOptions(options);
  }

  override _equals(other: ServerCredentials): boolean {
    return this === other;
  }
}
