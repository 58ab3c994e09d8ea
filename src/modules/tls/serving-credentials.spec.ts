import { beforeAll, describe, expect, it, vi } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentials as channelCredentials } from '@grpc/grpc-js';
import type { CertificateAuthority, PemPair } from './pki.js';
import { adsClient, openStream, peerCertificate } from '../../../test/kit/ads-harness.js';
import { cleanups, fileOptions, issueServingPairs, serve, volumeWith, WAIT } from '../../../test/kit/serving-credentials-fixture.js';

// Certificate rotation from TLS_CERT_FILE/TLS_KEY_FILE; startup failures and the other serving modes have their own specs.

let ca: CertificateAuthority;
let pairA: PemPair;
let pairB: PemPair;
let pairC: PemPair;
beforeAll(async () => {
  ({
    ca,
    pairs: [pairA, pairB, pairC],
  } = await issueServingPairs('ads-a', 'ads-b', 'ads-c'));
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
