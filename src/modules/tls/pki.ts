import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const VALIDITY_MS = 24 * 3600 * 1000;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends PemPair {
  /** Issues a leaf certificate signed by this CA, valid for the given DNS names and IPs. */
  issue(options: { commonName: string; dnsNames?: string[]; ips?: string[]; client?: boolean }): Promise<PemPair>;
}

function pemKey(der: ArrayBuffer): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64.trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(8)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify']);
}

/**
 * Throwaway PKI generated in memory: used by tests, the demo's simulated istiods and the
 * ephemeral self-signed serving certificate. Nothing here is ever written to the repository.
 */
export async function createCertificateAuthority(commonName = 'istioctl-proxy test root'): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const now = Date.now();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + VALIDITY_MS),
    keys,
    signingAlgorithm: EC_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const caKeyPem = pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));

  return {
    certPem: caCert.toString('pem'),
    keyPem: caKeyPem,
    async issue({ commonName: cn, dnsNames = [], ips = [], client = false }) {
      const leafKeys = await generateKeys();
      const names: x509.JsonGeneralName[] = [
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ips.map((value) => ({ type: 'ip' as const, value })),
      ];
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: `CN=${cn}`,
        issuer: caCert.subject,
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + VALIDITY_MS),
        signingKey: keys.privateKey,
        publicKey: leafKeys.publicKey,
        signingAlgorithm: EC_ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([client ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth]),
          ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
          await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ],
      });
      return {
        certPem: cert.toString('pem'),
        keyPem: pemKey(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey)),
      };
    },
  };
}

/** A self-signed serving certificate (no separate CA), e.g. for an ephemeral default. */
export async function createSelfSigned(commonName: string, dnsNames: string[], ips: string[] = []): Promise<PemPair> {
  const ca = await createCertificateAuthority(`${commonName} (self-signed issuer)`);
  const leaf = await ca.issue({ commonName, dnsNames, ips });
  return { certPem: `${leaf.certPem.trimEnd()}\n${ca.certPem.trimEnd()}\n`, keyPem: leaf.keyPem };
}
