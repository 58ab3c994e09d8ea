import { beforeAll, describe, expect, it } from 'vitest';
import type { CertificateAuthority, PemPair } from './pki.js';
import { ConfigError } from '../../config/config.error.js';
import { createServingCredentials, type ServingCredentialsOptions } from './serving-credentials.js';
import { SecretVolume } from '../../../test/kit/secret-volume.js';
import { cleanups, issueServingPairs, testLogger } from '../../../test/kit/serving-credentials-fixture.js';

let ca: CertificateAuthority;
let pairA: PemPair;
let pairB: PemPair;
beforeAll(async () => {
  ({
    ca,
    pairs: [pairA, pairB],
  } = await issueServingPairs('ads-a', 'ads-b'));
});

describe('createServingCredentials startup failures', () => {
  const missing = '/nonexistent/istioctl-proxy/file.pem';
  const pairProblem = 'Invalid environment: TLS_CERT_FILE/TLS_KEY_FILE do not form a valid certificate and key pair: ';

  async function filesOf(contents: Record<string, string>): Promise<(name: string) => string> {
    const volume = await SecretVolume.create(contents);
    cleanups.push(() => volume.remove());
    return (name) => volume.path(name);
  }

  const cases: Array<{
    name: string;
    variable: string;
    message: RegExp | string;
    options: (path: (name: string) => string) => ServingCredentialsOptions;
  }> = [
    {
      name: 'a certificate without a key',
      variable: 'TLS_KEY_FILE',
      message: 'Invalid environment: TLS_KEY_FILE must be set when TLS_CERT_FILE is',
      options: (path) => ({ plaintext: false, certFile: path('tls.crt') }),
    },
    {
      name: 'a key without a certificate',
      variable: 'TLS_CERT_FILE',
      message: 'Invalid environment: TLS_CERT_FILE must be set when TLS_KEY_FILE is',
      options: (path) => ({ plaintext: false, keyFile: path('tls.key') }),
    },
    {
      name: 'an unreadable certificate',
      variable: 'TLS_CERT_FILE',
      message: `Invalid environment: TLS_CERT_FILE=${missing} cannot be read: ENOENT`,
      options: (path) => ({ plaintext: false, certFile: missing, keyFile: path('tls.key') }),
    },
    {
      name: 'an unreadable key',
      variable: 'TLS_KEY_FILE',
      message: `Invalid environment: TLS_KEY_FILE=${missing} cannot be read: ENOENT`,
      options: (path) => ({ plaintext: false, certFile: path('tls.crt'), keyFile: missing }),
    },
    {
      name: 'a certificate that is not PEM',
      variable: 'TLS_CERT_FILE/TLS_KEY_FILE',
      message: `${pairProblem}the certificate file holds no PEM certificate`,
      options: (path) => ({ plaintext: false, certFile: path('junk'), keyFile: path('tls.key') }),
    },
    {
      name: 'a key that is not PEM',
      variable: 'TLS_CERT_FILE/TLS_KEY_FILE',
      message: `${pairProblem}the key file holds no usable PEM private key`,
      options: (path) => ({ plaintext: false, certFile: path('tls.crt'), keyFile: path('junk') }),
    },
    {
      name: 'a certificate and key that do not match',
      variable: 'TLS_CERT_FILE/TLS_KEY_FILE',
      message: `${pairProblem}the private key does not match the certificate CN=ads-a`,
      options: (path) => ({ plaintext: false, certFile: path('tls.crt'), keyFile: path('other.key') }),
    },
    {
      name: 'an unreadable client CA',
      variable: 'TLS_CLIENT_CA_FILE',
      message: `Invalid environment: TLS_CLIENT_CA_FILE=${missing} cannot be read: ENOENT`,
      options: (path) => ({ plaintext: false, certFile: path('tls.crt'), keyFile: path('tls.key'), clientCaFile: missing }),
    },
    {
      name: 'a client CA that is not PEM',
      variable: 'TLS_CLIENT_CA_FILE',
      message: /^Invalid environment: TLS_CLIENT_CA_FILE=.*junk is not a usable CA bundle: the file holds no PEM certificate$/,
      options: (path) => ({ plaintext: false, clientCaFile: path('junk') }),
    },
    {
      name: 'PLAINTEXT=true together with certificate files',
      variable: 'PLAINTEXT',
      message: 'Invalid environment: PLAINTEXT=true conflicts with TLS_CERT_FILE/TLS_KEY_FILE: unset one or the other',
      options: (path) => ({ plaintext: true, certFile: path('tls.crt'), keyFile: path('tls.key') }),
    },
    {
      name: 'PLAINTEXT=true together with a client CA',
      variable: 'TLS_CLIENT_CA_FILE',
      message: 'Invalid environment: TLS_CLIENT_CA_FILE cannot be used with PLAINTEXT=true: client certificates need TLS',
      options: (path) => ({ plaintext: true, clientCaFile: path('ca.crt') }),
    },
  ];

  it.each(cases)('rejects $name, naming $variable', async ({ variable, message, options }) => {
    const path = await filesOf({
      'tls.crt': pairA.certPem,
      'tls.key': pairA.keyPem,
      'other.key': pairB.keyPem,
      'ca.crt': ca.certPem,
      junk: 'not a PEM file\n',
    });
    const logger = testLogger();

    const failure = await createServingCredentials(options(path), logger).then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(failure).toBeInstanceOf(ConfigError);
    expect(failure).toMatchObject({ variable });
    if (typeof message === 'string') expect((failure as ConfigError).message.startsWith(message)).toBe(true);
    else expect((failure as ConfigError).message).toMatch(message);
    expect(logger.log).not.toHaveBeenCalled();
  });
});
