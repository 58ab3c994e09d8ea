import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, type LoggerService } from '@nestjs/common';
import { startProxy, type RunningProxy } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/modules/tls/pki.js';
import { XdsClient, type XdsClientOptions } from '../../tools/cli/xds-client.js';
import { SimulatedIstiod, type SimulatedIstiodOptions } from '../../tools/sim/istiod-simulator.js';
import { createTokenIssuer, type TokenIssuer } from './test-tokens.js';
import { freePort } from './free-port.js';

export const ISTIOD_SERVER_NAME = 'istiod.istio-system.svc';

export interface MeshHarness {
  ca: CertificateAuthority;
  tokens: TokenIssuer;
  istiods: SimulatedIstiod[];
  proxy: RunningProxy;
  proxyAddress: string;
  workDir: string;
  /** A token istioctl would get: ServiceAccount `default` in istio-system, audience istio-ca. */
  istioctlToken: string;
  /** An istioctl-like client on the proxy (plaintext by default, the caller's token attached). */
  client(options?: Partial<XdsClientOptions>): XdsClient;
  stop(): Promise<void>;
}

export interface MeshOptions {
  istiods: Array<Pick<SimulatedIstiodOptions, 'podName' | 'version' | 'proxies'> & Partial<SimulatedIstiodOptions>>;
  /** Extra/override proxy environment (strings, as in production). */
  env?: Record<string, string>;
  /** Serve TLS (a certificate for localhost/127.0.0.1 from the test CA, in workDir/proxy-ca.pem) instead of plaintext. */
  tls?: boolean;
  /** The token issuer (the "cluster" that signs ServiceAccount tokens); created when absent. */
  tokens?: TokenIssuer;
  /** Quiet by default; set to see the proxy's logs while debugging a test. */
  verbose?: boolean;
  /** The proxy's logger (e.g. a PinoLogger writing to a capture stream); overrides `verbose`. */
  logger?: LoggerService;
}

/**
 * A mesh on loopback: N simulated istiods (TLS from a throwaway CA, tokens verified like istiod
 * does) and the real proxy started from environment variables, exactly as in production.
 */
export async function startMesh(options: MeshOptions): Promise<MeshHarness> {
  const workDir = mkdtempSync(join(tmpdir(), 'istioctl-proxy-test-'));
  const ca = await createCertificateAuthority();
  const tokens = options.tokens ?? (await createTokenIssuer());
  const serving = await ca.issue({ commonName: 'istiod', dnsNames: [ISTIOD_SERVER_NAME] });
  writeFileSync(join(workDir, 'root-cert.pem'), ca.certPem);
  writeFileSync(join(workDir, 'jwks.json'), JSON.stringify(tokens.jwks));
  const servingEnv: Record<string, string> = { PLAINTEXT: 'true' };
  if (options.tls) {
    const proxyCert = await ca.issue({ commonName: 'istioctl-proxy', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    writeFileSync(join(workDir, 'proxy-ca.pem'), ca.certPem);
    writeFileSync(join(workDir, 'proxy-cert.pem'), proxyCert.certPem);
    writeFileSync(join(workDir, 'proxy-key.pem'), proxyCert.keyPem);
    Object.assign(servingEnv, {
      PLAINTEXT: '',
      TLS_CERT_FILE: join(workDir, 'proxy-cert.pem'),
      TLS_KEY_FILE: join(workDir, 'proxy-key.pem'),
    });
  }

  const istiods = options.istiods.map(
    (spec) =>
      new SimulatedIstiod({
        tls: serving,
        verifyToken: async (token) => tokens.verify(token),
        ...spec,
      }),
  );
  await Promise.all(istiods.map((istiod) => istiod.start()));

  const grpcPort = await freePort();
  const env: Record<string, string> = {
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: String(grpcPort),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(await freePort()),
    ...servingEnv,
    DISCOVERY: 'static',
    ISTIOD_ADDRESSES: istiods.map((istiod) => `${istiod.podName}=${istiod.address}`).join(','),
    UPSTREAM_CA_FILE: join(workDir, 'root-cert.pem'),
    FANOUT_TIMEOUT_MS: '3000',
    AUTH_MODE: 'jwks',
    JWT_JWKS_FILE: join(workDir, 'jwks.json'),
    JWT_ISSUER: tokens.issuer,
    ...options.env,
  };
  if (!options.verbose && !options.logger) Logger.overrideLogger(false);
  const proxy = await startProxy(loadConfig(env), options.logger ?? (options.verbose ? undefined : false));
  const proxyAddress = `127.0.0.1:${grpcPort}`;
  const istioctlToken = await tokens.mint({ namespace: 'istio-system', serviceAccount: 'default' });
  const clients: XdsClient[] = [];

  return {
    ca,
    tokens,
    istiods,
    proxy,
    proxyAddress,
    workDir,
    istioctlToken,
    client(overrides = {}) {
      const client = new XdsClient({ address: proxyAddress, plaintext: !options.tls, token: istioctlToken, ...overrides });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.close();
      await proxy.close();
      await Promise.all(istiods.map((istiod) => istiod.stop()));
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
