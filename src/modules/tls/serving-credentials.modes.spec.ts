import { beforeAll, describe, expect, it, vi } from 'vitest';
import { credentials as channelCredentials, status } from '@grpc/grpc-js';
import { createCertificateAuthority, type CertificateAuthority, type PemPair } from './pki.js';
import { createServingCredentials } from './serving-credentials.js';
import { adsClient, openStream, peerCertificate, startAds } from '../../../test/kit/ads-harness.js';
import { SecretVolume } from '../../../test/kit/secret-volume.js';
import { cleanups, fileOptions, issueServingPairs, serve, testLogger, WAIT } from '../../../test/kit/serving-credentials-fixture.js';

// Serving without certificate files (self-signed, plaintext) and with client certificates required.

const HOUR_MS = 3_600_000;

/** The serial number in the first message logged with `marker` (describeCertificate's wording). */
function loggedSerial(logged: { mock: { calls: string[][] } }, marker: string): string | undefined {
  const message = logged.mock.calls.map(([line]) => line).find((line) => line.includes(marker));
  return /serial ([0-9A-F]+)/.exec(message ?? '')?.[1];
}

let ca: CertificateAuthority;
let pairA: PemPair;
beforeAll(async () => {
  ({
    ca,
    pairs: [pairA],
  } = await issueServingPairs('ads-a'));
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
    const firstSerial = loggedSerial(logger.warn, 'ephemeral self-signed');
    expect(firstSerial).toMatch(/^[0-9A-F]+$/);

    await vi.advanceTimersByTimeAsync(13 * HOUR_MS);

    await vi.waitFor(() => expect(logger.log).toHaveBeenCalledWith(expect.stringContaining('to new connections')), WAIT);
    const renewedSerial = loggedSerial(logger.log, 'to new connections');
    expect(renewedSerial).not.toBe(firstSerial);
    vi.useRealTimers();
    const ads = await startAds(sut.credentials);
    cleanups.push(() => ads.stop());
    expect((await peerCertificate(ads.port)).serialNumber).toBe(renewedSerial);
  });

  it('serves plaintext when PLAINTEXT=true, and says so', async () => {
    const logger = testLogger();
    const sut = await createServingCredentials({ plaintext: true }, logger);

    expect(sut.mode).toBe('plaintext');
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('PLAINTEXT=true'));
    const ads = await startAds(sut.credentials);
    cleanups.push(() => ads.stop());
    const client = adsClient(ads.port, channelCredentials.createInsecure());
    cleanups.push(() => client.close());
    const stream = openStream(client);
    cleanups.push(() => stream.close());
    expect((await stream.ask('v1')).version_info).toBe('v1');
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
