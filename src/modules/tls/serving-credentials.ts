import { ServerCredentials } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { ConfigError } from '../../config/config.error.js';
import { createSelfSignedIdentity, defaultSelfSignedNames } from './self-signed-identity.js';
import { describeCertificate, type ServingIdentity } from './serving-material.js';
import { toTlsMaterial, TlsMaterialError, type TlsMaterial, type WatchedFile } from './tls-material.js';
import { TlsReloader, type ServingLogger } from './tls-reloader.js';
import { readFiles, type FileRead } from './watched-files.js';

export const DEFAULT_REFRESH_INTERVAL_MS = 5_000;

export type ServingMode = 'plaintext' | 'files' | 'self-signed';

export interface ServingCredentialsOptions {
  plaintext: boolean;
  certFile?: string;
  keyFile?: string;
  /** When set, clients must present a certificate issued by one of these CAs. */
  clientCaFile?: string;
  /** How often the files are re-read; a rotation reaches new connections within about this long. */
  refreshIntervalMs?: number;
  /** DNS names and IPs for the ephemeral certificate; defaults to localhost, the host name and loopback. */
  selfSignedNames?: string[];
  /** When the self-signed certificate is due for renewal is measured against this clock. */
  clock?: Clock;
}

export interface ServingCredentials {
  credentials: ServerCredentials;
  mode: ServingMode;
  /** Stops re-reading files and renewing; call it when the gRPC server shuts down. */
  close(): void;
}

/**
 * The credentials ADS is served with. Every problem found at startup is a ConfigError naming the
 * variable; there is deliberately no fallback to plaintext.
 */
export async function createServingCredentials(
  options: ServingCredentialsOptions,
  logger: ServingLogger = new Logger('ServingCredentials'),
): Promise<ServingCredentials> {
  checkCombination(options);
  if (options.plaintext) {
    logger.warn('PLAINTEXT=true: serving ADS without TLS; tokens and mesh configuration cross the network in clear');
    return { credentials: ServerCredentials.createInsecure(), mode: 'plaintext', close: () => undefined };
  }
  const files: WatchedFile[] = [
    ...(options.certFile ? [{ variable: 'TLS_CERT_FILE' as const, path: options.certFile }] : []),
    ...(options.keyFile ? [{ variable: 'TLS_KEY_FILE' as const, path: options.keyFile }] : []),
    ...(options.clientCaFile ? [{ variable: 'TLS_CLIENT_CA_FILE' as const, path: options.clientCaFile }] : []),
  ];
  const mode = options.certFile ? 'files' : 'self-signed';
  const names = options.selfSignedNames ?? defaultSelfSignedNames();
  const initialReads = await readFiles(files.map((file) => file.path));
  const generated = mode === 'self-signed' ? await createSelfSignedIdentity(names) : undefined;
  const initial = startupMaterial(files, initialReads, generated);
  const refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
  const reloader = new TlsReloader({
    initial,
    files,
    initialReads,
    refreshIntervalMs,
    regenerate: generated && (() => createSelfSignedIdentity(names)),
    logger,
    clock: options.clock,
  });

  const serving = describeCertificate(initial.identity.leaf);
  if (mode === 'files') {
    logger.log(`serving TLS with ${serving} from TLS_CERT_FILE=${options.certFile}; re-read every ${refreshIntervalMs} ms`);
  } else {
    logger.warn(
      `TLS_CERT_FILE/TLS_KEY_FILE not set: serving TLS with an ephemeral self-signed certificate ${serving} that clients cannot verify; mount a real certificate in production`,
    );
  }
  if (initial.clientCa) {
    logger.log(
      `requiring client certificates issued by TLS_CLIENT_CA_FILE=${options.clientCaFile} (${initial.clientCa.count} CA certificate(s))`,
    );
  }
  return { credentials: reloader.credentials, mode, close: () => reloader.close() };
}

function startupMaterial(files: WatchedFile[], reads: FileRead[], generated?: ServingIdentity): TlsMaterial {
  try {
    return toTlsMaterial(files, reads, generated);
  } catch (err) {
    throw err instanceof TlsMaterialError ? err.toConfigError() : err;
  }
}

/** Settings that contradict each other fail startup rather than one of them being silently ignored. */
function checkCombination({ plaintext, certFile, keyFile, clientCaFile }: ServingCredentialsOptions): void {
  if (certFile && !keyFile) throw new ConfigError('TLS_KEY_FILE', 'must be set when TLS_CERT_FILE is');
  if (keyFile && !certFile) throw new ConfigError('TLS_CERT_FILE', 'must be set when TLS_KEY_FILE is');
  if (plaintext && certFile) {
    throw new ConfigError('PLAINTEXT', '=true conflicts with TLS_CERT_FILE/TLS_KEY_FILE: unset one or the other');
  }
  if (plaintext && clientCaFile) {
    throw new ConfigError('TLS_CLIENT_CA_FILE', 'cannot be used with PLAINTEXT=true: client certificates need TLS');
  }
}
