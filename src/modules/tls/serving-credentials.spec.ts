import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentials as channelCredentials, status } from '@grpc/grpc-js';
import { createCertificateAuthority, type CertificateAuthority, type PemPair } from './pki.js';
import { ConfigError } from '../../config/config.error.js';
import { createServingCredentials, type ServingCredentialsOptions } from './serving-credentials.js';
import { adsClient, openStream, peerCertificate, startAds } from '../../../test/kit/ads-harness.js';
import { SecretVolume } from '../../../test/kit/secret-volume.js';

const REFRESH_MS = 100;
/** Generous next to REFRESH_MS; only reached when something is broken. */
const WAIT = { timeout: 5_000, interval: 50 };
const HOUR_MS = 3_600_000;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function testLogger() {
  return { log: vi.fn<(message: string) => void>(), warn: vi.fn<(message: string) => void>() };
}

async function serve(options: ServingCredentialsOptions, logger = testLogger()) {
  const sut = await createServingCredentials({ refreshIntervalMs: REFRESH_MS, ...options }, logger);
  cleanups.push(() => sut.close());
  const ads = await startAds(sut.credentials);
  cleanups.push(() => ads.stop());
  return { sut, port: ads.port, logger };
}

async function volumeWith(pair: PemPair): Promise<SecretVolume> {
  const volume = await SecretVolume.create({ 'tls.crt': pair.certPem, 'tls.key': pair.keyPem });
  cleanups.push(() => volume.remove());
  return volume;
}

function fileOptions(volume: SecretVolume): ServingCredentialsOptions {
  return { plaintext: false, certFile: volume.path('tls.crt'), keyFile: volume.path('tls.key') };
}

let ca: CertificateAuthority;
let pairA: PemPair;
let pairB: PemPair;
let pairC: PemPair;
beforeAll(async () => {
  ca = await createCertificateAuthority();
  const issue = (commonName: string) => ca.issue({ commonName, dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  [pairA, pairB, pairC] = await Promise.all([issue('ads-a'), issue('ads-b'), issue('ads-c')]);
});

describe('createServingCredentials with TLS_CERT_FILE/TLS_KEY_FILE', () => {
  it('serves the pair from the files to clients that verify it', async () => {
    const { sut, port } = await serve(fileOptions(await volumeWith(pairA)));

    expect(sut.mode).toBe('files');
    expect((await peerCertificate(port, { ca: ca.certPem })).subject.CN).toBe('ads-a');
    const client = adsClient(port, channelCredentials.createSsl(Buffer.from(ca.certPem)));
    cleanups.push(() => client.close());
    const stream = openStream(client);
    cleanups.push(() => stream.close());
    expect((await stream.ask('v1')).version_info).toBe('v1');
  });

  it('hands a rotated pair to new connections while a stream opened before keeps working', async () => {
    const volume = await volumeWith(pairA);
    const { port, logger } = await serve(fileOptions(volume));
    const before = adsClient(port, channelCredentials.createSsl(Buffer.from(ca.certPem)));
    cleanups.push(() => before.close());
    const stream = openStream(before);
    cleanups.push(() => stream.close());
    expect((await stream.ask('before')).version_info).toBe('before');

    await volume.publish({ 'tls.crt': pairB.certPem, 'tls.key': pairB.keyPem });

    await vi.waitFor(async () => expect((await peerCertificate(port, { ca: ca.certPem })).subject.CN).toBe('ads-b'), WAIT);
    expect((await stream.ask('after')).version_info).toBe('after');
    const after = adsClient(port, channelCredentials.createSsl(Buffer.from(ca.certPem)));
    cleanups.push(() => after.close());
    const fresh = openStream(after);
    cleanups.push(() => fresh.close());
    expect((await fresh.ask('fresh')).version_info).toBe('fresh');
    expect(logger.log).toHaveBeenCalledWith(expect.stringContaining('CN=ads-b'));
  });

  it('keeps serving the old pair when a broken one is rotated in, and takes the next good one', async () => {
    const volume = await volumeWith(pairA);
    const { port, logger } = await serve(fileOptions(volume));

    await volume.publish({ 'tls.crt': pairB.certPem, 'tls.key': pairC.keyPem });
    await vi.waitFor(() => expect(logger.warn).toHaveBeenCalledTimes(1), WAIT);
    expect(logger.warn.mock.calls[0][0]).toMatch(
      /still serving CN=ads-a .*TLS_CERT_FILE\/TLS_KEY_FILE do not form a valid certificate and key pair: the private key does not match/,
    );
    expect((await peerCertificate(port, { ca: ca.certPem })).subject.CN).toBe('ads-a');

    // A half-written secret: createSecureContext alone would accept the empty key and serve nothing.
    await volume.publish({ 'tls.crt': pairB.certPem, 'tls.key': '' });
    await vi.waitFor(() => expect(logger.warn).toHaveBeenCalledTimes(2), WAIT);
    expect(logger.warn.mock.calls[1][0]).toContain('the key file holds no usable PEM private key');
    expect((await peerCertificate(port, { ca: ca.certPem })).subject.CN).toBe('ads-a');

    await volume.publish({ 'tls.crt': pairB.certPem, 'tls.key': pairB.keyPem });
    await vi.waitFor(async () => expect((await peerCertificate(port, { ca: ca.certPem })).subject.CN).toBe('ads-b'), WAIT);
    expect(logger.warn).toHaveBeenCalledTimes(2);
  });

  it('keeps the old pair while the files cannot be read at all', async () => {
    const volume = await volumeWith(pairA);
    const { port, logger } = await serve(fileOptions(volume));

    await volume.publish({});

    await vi.waitFor(
      () => expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/TLS_CERT_FILE=.* cannot be read: ENOENT/)),
      WAIT,
    );
    expect((await peerCertificate(port, { ca: ca.certPem })).subject.CN).toBe('ads-a');
  });
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

describe('createServingCredentials without certificate files', () => {
  it('serves TLS with an ephemeral self-signed certificate and warns about it', async () => {
    const { sut, port, logger } = await serve({ plaintext: false, selfSignedNames: ['proxy.example', '127.0.0.1'] });

    expect(sut.mode).toBe('self-signed');
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/ephemeral self-signed .*mount a real certificate in production/));
    const peer = await peerCertificate(port);
    expect(peer.subject.CN).toBe('istioctl-proxy');
    expect(peer.subjectaltname).toBe('DNS:proxy.example, IP Address:127.0.0.1');
    const client = adsClient(port, channelCredentials.createSsl(null, null, null, { rejectUnauthorized: false }));
    cleanups.push(() => client.close());
    const stream = openStream(client);
    cleanups.push(() => stream.close());
    expect((await stream.ask('v1')).version_info).toBe('v1');
  });

  it('renews the self-signed certificate before it expires', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const logger = testLogger();
    const sut = await createServingCredentials({ plaintext: false, selfSignedNames: ['localhost'] }, logger);
    cleanups.push(() => sut.close());
    const firstCert = sut.credentials._getSecureContextOptions()?.cert;

    await vi.advanceTimersByTimeAsync(13 * HOUR_MS);

    await vi.waitFor(() => expect(logger.log).toHaveBeenCalledWith(expect.stringContaining('to new connections')), WAIT);
    expect(sut.credentials._getSecureContextOptions()?.cert).not.toEqual(firstCert);
  });

  it('serves plaintext when PLAINTEXT=true, and says so', async () => {
    const logger = testLogger();
    const sut = await createServingCredentials({ plaintext: true }, logger);

    expect(sut.mode).toBe('plaintext');
    expect(sut.credentials._isSecure()).toBe(false);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('PLAINTEXT=true'));
  });
});

describe('createServingCredentials with TLS_CLIENT_CA_FILE', () => {
  it('accepts only clients presenting a certificate from that CA', async () => {
    const clientCa = await createCertificateAuthority('istioctl-proxy client CA');
    const volume = await SecretVolume.create({ 'tls.crt': pairA.certPem, 'tls.key': pairA.keyPem, 'ca.crt': clientCa.certPem });
    cleanups.push(() => volume.remove());
    const { port, logger } = await serve({ ...fileOptions(volume), clientCaFile: volume.path('ca.crt') });
    expect(logger.log).toHaveBeenCalledWith(expect.stringContaining('requiring client certificates'));

    const goodClient = await clientCa.issue({ commonName: 'istioctl', client: true });
    const foreignClient = await ca.issue({ commonName: 'intruder', client: true });
    const attempt = async (identity?: PemPair) => {
      const key = identity ? Buffer.from(identity.keyPem) : null;
      const cert = identity ? Buffer.from(identity.certPem) : null;
      const client = adsClient(port, channelCredentials.createSsl(Buffer.from(ca.certPem), key, cert));
      cleanups.push(() => client.close());
      const stream = openStream(client);
      cleanups.push(() => stream.close());
      return stream.ask('v1');
    };

    await expect(attempt()).rejects.toMatchObject({ code: status.UNAVAILABLE });
    await expect(attempt(foreignClient)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect((await attempt(goodClient)).version_info).toBe('v1');
  });
});

describe('createServingCredentials with files rewritten in place', () => {
  it('picks up a pair rewritten without the Kubernetes symlink dance', async () => {
    const volume = await volumeWith(pairA);
    const dir = volume.dir;
    await writeFile(join(dir, 'plain.crt'), pairA.certPem);
    await writeFile(join(dir, 'plain.key'), pairA.keyPem);
    const { port } = await serve({ plaintext: false, certFile: join(dir, 'plain.crt'), keyFile: join(dir, 'plain.key') });

    await writeFile(join(dir, 'plain.key'), pairC.keyPem);
    await writeFile(join(dir, 'plain.crt'), pairC.certPem);

    await vi.waitFor(async () => expect((await peerCertificate(port)).subject.CN).toBe('ads-c'), WAIT);
  });
});
