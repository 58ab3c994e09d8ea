import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adsPackageDefinition } from '../src/common/proto.js';
import { istioctlNode } from '../tools/cli/istioctl-node.js';
import { goTimeNonce } from '../tools/cli/go-time.js';
import { decodeClientConfigs, controlPlaneInfo } from '../tools/cli/xds-decoders.js';
import type { DiscoveryRequest, DiscoveryResponse } from '../src/common/xds-types.js';
import { buildDemoMesh } from '../tools/sim/mesh-fixtures.js';
import { startMesh, type MeshHarness } from './kit/mesh-harness.js';

const script = fileURLToPath(new URL('./python/ads_request.py', import.meta.url));
const PYTHON = '/usr/bin/python3';
const hasPythonGrpc = spawnSync(PYTHON, ['-c', 'import grpc'], { stdio: 'ignore' }).status === 0;

/** Runs the Python client without blocking this process's event loop (the proxy runs in it). */
function runPython(job: object): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [script], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(JSON.stringify(job));
  });
}

type MethodDef = { requestSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown };
function adsMethod(): MethodDef {
  const service = adsPackageDefinition()['envoy.service.discovery.v3.AggregatedDiscoveryService'] as unknown as Record<string, MethodDef>;
  return service.StreamAggregatedResources;
}

/**
 * A second opinion on wire compatibility: gRPC C-core (Python grpcio, as packaged by Debian, which
 * .ci/run installs) talks TLS + HTTP/2 to the proxy, the way grpc-go in istioctl does, while our
 * own client is grpc-js like the server. Skipped only where python3-grpcio cannot be installed.
 */
describe.skipIf(!hasPythonGrpc)('wire compatibility with gRPC C-core (python3-grpcio)', () => {
  let mesh: MeshHarness;
  let servingCaPem: string;

  beforeAll(async () => {
    mesh = await startMesh({ istiods: buildDemoMesh(), tls: true });
    servingCaPem = readFileSync(`${mesh.workDir}/proxy-ca.pem`, 'utf8');
  });
  afterAll(async () => mesh?.stop());

  it('answers an istioctl request sent by a C-core client over TLS', async () => {
    const request: Partial<DiscoveryRequest> = {
      node: istioctlNode(),
      type_url: 'istio.io/debug/syncz',
      response_nonce: goTimeNonce(),
      resource_names: [],
    };
    const job = {
      address: mesh.proxyAddress,
      ca_pem: servingCaPem,
      server_name: 'localhost',
      token: mesh.istioctlToken,
      request_hex: adsMethod().requestSerialize(request).toString('hex'),
    };
    const run = await runPython(job);
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { response_hex?: string; code?: string; details?: string };
    expect(out.code, out.details).toBeUndefined();
    const response = adsMethod().responseDeserialize(Buffer.from(out.response_hex!, 'hex')) as DiscoveryResponse;
    expect(response.type_url).toBe('istio.io/debug/syncz');
    expect(decodeClientConfigs(response).length).toBe(12);
    expect(controlPlaneInfo(response)).toMatchObject({ ID: '<external>' });
  });

  it('sees the proxy status codes as C-core reports them (UNAUTHENTICATED for a bad token)', async () => {
    const request: Partial<DiscoveryRequest> = { node: istioctlNode(), type_url: 'istio.io/debug/syncz', response_nonce: goTimeNonce() };
    const job = {
      address: mesh.proxyAddress,
      ca_pem: servingCaPem,
      server_name: 'localhost',
      token: 'garbage',
      request_hex: adsMethod().requestSerialize(request).toString('hex'),
    };
    const run = await runPython(job);
    const out = JSON.parse(run.stdout) as { code?: string; details?: string };
    expect(out.code).toBe('UNAUTHENTICATED');
    expect(out.details).toContain('malformed');
  });
});
