import { ConfigError } from '../../config/config.error.js';
import { parseClientCa, parseServingIdentity, type ClientCaBundle, type ServingIdentity } from './serving-material.js';
import type { FileRead } from './watched-files.js';

export type TlsVariable = 'TLS_CERT_FILE' | 'TLS_KEY_FILE' | 'TLS_CLIENT_CA_FILE';

export interface WatchedFile {
  variable: TlsVariable;
  path: string;
}

/** Everything one TLS context is built from. */
export interface TlsMaterial {
  identity: ServingIdentity;
  clientCa?: ClientCaBundle;
}

/**
 * A problem with one of the files, worded like ConfigError so that the same text serves as a startup
 * failure and as the warning when a rotated file is bad.
 */
export class TlsMaterialError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}${problem.startsWith('=') ? '' : ' '}${problem}`);
    this.name = 'TlsMaterialError';
  }

  toConfigError(): ConfigError {
    return new ConfigError(this.variable, this.problem);
  }
}

/**
 * Validates one read of the watched files. Without TLS_CERT_FILE among them the serving identity is
 * `generated` (the self-signed one); the client CA is optional either way.
 */
export function toTlsMaterial(files: readonly WatchedFile[], reads: readonly FileRead[], generated?: ServingIdentity): TlsMaterial {
  const contents = new Map<TlsVariable, Buffer>();
  files.forEach((file, index) => {
    const read = reads[index];
    if ('error' in read) throw new TlsMaterialError(file.variable, `=${file.path} cannot be read: ${read.error.message}`);
    contents.set(file.variable, read.content);
  });
  const cert = contents.get('TLS_CERT_FILE');
  const key = contents.get('TLS_KEY_FILE');
  const ca = contents.get('TLS_CLIENT_CA_FILE');
  return { identity: cert && key ? identityFromFiles(cert, key) : required(generated), clientCa: ca && clientCaFromFile(files, ca) };
}

function identityFromFiles(cert: Buffer, key: Buffer): ServingIdentity {
  try {
    return parseServingIdentity(cert, key);
  } catch (err) {
    throw new TlsMaterialError('TLS_CERT_FILE/TLS_KEY_FILE', `do not form a valid certificate and key pair: ${(err as Error).message}`);
  }
}

function clientCaFromFile(files: readonly WatchedFile[], ca: Buffer): ClientCaBundle {
  try {
    return parseClientCa(ca);
  } catch (err) {
    const path = files.find((file) => file.variable === 'TLS_CLIENT_CA_FILE')?.path;
    throw new TlsMaterialError('TLS_CLIENT_CA_FILE', `=${path} is not a usable CA bundle: ${(err as Error).message}`);
  }
}

function required(generated: ServingIdentity | undefined): ServingIdentity {
  if (!generated) throw new Error('no serving identity: neither TLS_CERT_FILE/TLS_KEY_FILE nor a generated one');
  return generated;
}
