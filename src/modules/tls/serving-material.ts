import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A certificate chain and key that have been checked to work together, ready for a TLS server. */
export interface ServingIdentity {
  /** Re-joined PEM blocks: a chain glued without newlines (`cat a b` of newline-less files) still loads. */
  certChain: string;
  key: Buffer;
  leaf: X509Certificate;
}

/** A verified client-CA bundle, re-joined like ServingIdentity.certChain. */
export interface ClientCaBundle {
  pem: string;
  count: number;
}

/**
 * Checks what tls.createSecureContext does not: it accepts an empty cert or key (a half-written file
 * mid-rotation) and ignores junk CA text, so each part is parsed on its own before the final check.
 */
export function parseServingIdentity(certPem: Buffer | string, keyPem: Buffer | string): ServingIdentity {
  const certificates = parseCertificates(certPem, 'the certificate file');
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new Error(`the key file holds no usable PEM private key (${(err as Error).message})`, { cause: err });
  }
  const leaf = certificates[0];
  if (!leaf.checkPrivateKey(key)) throw new Error(`the private key does not match the certificate ${describeCertificate(leaf)}`);
  const certChain = certificates.map((cert) => cert.toString()).join('');
  createSecureContext({ cert: certChain, key: keyPem });
  return { certChain, key: Buffer.from(keyPem), leaf };
}

export function parseClientCa(caPem: Buffer | string): ClientCaBundle {
  const certificates = parseCertificates(caPem, 'the file');
  const pem = certificates.map((cert) => cert.toString()).join('');
  createSecureContext({ ca: pem });
  return { pem, count: certificates.length };
}

/** What a TLS server needs; GRPC_SSL_CIPHER_SUITES is repeated because setSecureContext resets ciphers. */
export function secureContextOptions(identity: ServingIdentity, clientCa?: ClientCaBundle): SecureContextOptions {
  const ciphers = process.env.GRPC_SSL_CIPHER_SUITES;
  return {
    cert: identity.certChain,
    key: identity.key,
    ...(clientCa ? { ca: clientCa.pem } : {}),
    ...(ciphers ? { ciphers } : {}),
  };
}

/** Enough to tell two certificates apart in a log line. */
export function describeCertificate(cert: X509Certificate): string {
  return `${cert.subject.replace(/\n/g, ', ')} (serial ${cert.serialNumber}, expires ${new Date(cert.validTo).toISOString()})`;
}

function parseCertificates(pem: Buffer | string, what: string): X509Certificate[] {
  const blocks = pem.toString().match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error(`${what} holds no PEM certificate`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new Error(`certificate ${index + 1} in ${what} cannot be parsed (${(err as Error).message})`, { cause: err });
    }
  });
}
