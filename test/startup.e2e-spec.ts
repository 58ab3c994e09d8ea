import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeClientConfigs } from '../tools/cli/xds-decoders.js';
import { XdsClient } from '../tools/cli/xds-client.js';
import { startDemoMesh, type DemoMesh } from '../tools/demo/demo-mesh.js';
import { freePort } from './kit/free-port.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const mainJs = join(repoRoot, 'dist/main.js');

interface Exited {
  code: number | null;
  stderr: string;
}

function runMain(env: Record<string, string>): { child: ChildProcess; exited: Promise<Exited>; output: () => string } {
  const child = spawn(process.execPath, [mainJs], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<Exited>((resolve) => child.on('exit', (code) => resolve({ code, stderr: output })));
  return { child, exited, output: () => output };
}

describe('node dist/main.js (the container entry point)', () => {
  it.each([
    [{ GRPC_PORT: 'abc' }, 'Invalid environment: GRPC_PORT=abc is not a port'],
    [{ PLAINTEXT: '', TLS_CERT_FILE: '/etc/tls/tls.crt' }, 'Invalid environment: TLS_KEY_FILE must be set when TLS_CERT_FILE is'],
    [
      { TLS_CERT_FILE: '/nonexistent/cert.pem', TLS_KEY_FILE: '/nonexistent/key.pem', PLAINTEXT: '' },
      'TLS_CERT_FILE=/nonexistent/cert.pem cannot be read',
    ],
    [{ MERGE_PLUGINS: './nope.js' }, 'MERGE_PLUGINS plugin "./nope.js" could not be loaded'],
  ])('stops with exit 1 and names the variable for %o', async (override, message) => {
    const { exited } = runMain({
      PLAINTEXT: 'true',
      DISCOVERY: 'static',
      ISTIOD_ADDRESSES: 'a=127.0.0.1:1',
      UPSTREAM_INSECURE: 'true',
      AUTH_MODE: 'none',
      GRPC_PORT: '0',
      HTTP_PORT: '0',
      ...override,
    });
    const { code, stderr } = await exited;
    expect(code).toBe(1);
    expect(stderr).toContain(message);
  });

  describe('serving', () => {
    let mesh: DemoMesh;
    let proxy: ReturnType<typeof runMain>;
    let grpcPort: number;
    let httpPort: number;

    beforeAll(async () => {
      mesh = await startDemoMesh();
      grpcPort = await freePort();
      httpPort = await freePort();
      proxy = runMain({
        GRPC_HOST: '127.0.0.1',
        GRPC_PORT: String(grpcPort),
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(httpPort),
        TLS_CERT_FILE: mesh.servingCertFile,
        TLS_KEY_FILE: mesh.servingKeyFile,
        DISCOVERY: 'static',
        ISTIOD_ADDRESSES: mesh.istiods.map((istiod) => `${istiod.podName}=${istiod.address}`).join(','),
        UPSTREAM_CA_FILE: mesh.caFile,
        AUTH_MODE: 'jwks',
        JWT_JWKS_FILE: mesh.jwksFile,
      });
      const until = Date.now() + 15_000;
      while (!proxy.output().includes('serving ADS') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    });
    afterAll(async () => {
      proxy?.child.kill('SIGTERM');
      const { code } = await proxy.exited;
      expect(code).toBe(0);
      await mesh?.stop();
    });

    it('serves /healthz over plain HTTP', async () => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      expect(res.status).toBe(200);
    });

    it('answers istioctl over TLS (skip-verify, like istioctl) with the caller token', async () => {
      const { readFileSync } = await import('node:fs');
      const client = new XdsClient({ address: `127.0.0.1:${grpcPort}`, token: readFileSync(mesh.tokenFile, 'utf8') });
      const { response } = await client.request('istio.io/debug/syncz');
      client.close();
      expect(decodeClientConfigs(response).length).toBe(12);
    });

    it('exposes gRPC server reflection listing the ADS service', async () => {
      const require = createRequire(import.meta.url);
      const reflectionProto = join(
        dirname(require.resolve('@grpc/reflection/package.json')),
        'build/proto/grpc/reflection/v1alpha/reflection.proto',
      );
      const definition = protoLoader.loadSync(reflectionProto, { keepCase: true });
      const loaded = grpc.loadPackageDefinition(definition) as unknown as {
        grpc: { reflection: { v1alpha: { ServerReflection: grpc.ServiceClientConstructor } } };
      };
      const Reflection = loaded.grpc.reflection.v1alpha.ServerReflection;
      const client = new Reflection(
        `127.0.0.1:${grpcPort}`,
        grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined }),
      );
      const call = (
        client as unknown as {
          ServerReflectionInfo(): grpc.ClientDuplexStream<object, { list_services_response?: { service: Array<{ name: string }> } }>;
        }
      ).ServerReflectionInfo();
      const answer = new Promise<string[]>((resolve, reject) => {
        call.on('data', (msg: { list_services_response?: { service: Array<{ name: string }> } }) =>
          resolve((msg.list_services_response?.service ?? []).map((s) => s.name)),
        );
        call.on('error', reject);
      });
      call.write({ list_services: '' });
      const services = await answer;
      call.cancel();
      client.close();
      expect(services).toContain('envoy.service.discovery.v3.AggregatedDiscoveryService');
    });
  });
});
