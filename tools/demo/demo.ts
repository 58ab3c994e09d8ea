import { parseArgs } from 'node:util';
import { startProxy, type RunningProxy } from '../../src/bootstrap.js';
import { ConfigError } from '../../src/config/config.error.js';
import { loadConfig } from '../../src/config/load-config.js';
import pino from 'pino';
import { PinoLogger } from '../../src/modules/logging/pino-logger.js';
import { runClient } from '../cli/client.js';
import { findPodOnThird, buildDemoMesh } from '../sim/mesh-fixtures.js';
import { startDemoMesh, DEMO_ISTIOD_SERVER_NAME, type DemoMesh } from './demo-mesh.js';

/**
 * `npm run demo`: the real proxy on :9090 in front of 3 simulated istiods, queried with the bundled
 * istioctl-style client, then exit 0. `npm run demo -- --serve` keeps everything running.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { serve: { type: 'boolean', default: false } } });
  const grpcPort = process.env.GRPC_PORT ?? '9090';
  const mesh = await startDemoMesh();
  let proxy: RunningProxy | undefined;
  try {
    proxy = await startProxy(
      loadConfig({
        GRPC_HOST: '127.0.0.1',
        GRPC_PORT: grpcPort,
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: process.env.HTTP_PORT ?? '8080',
        TLS_CERT_FILE: mesh.servingCertFile,
        TLS_KEY_FILE: mesh.servingKeyFile,
        DISCOVERY: 'static',
        ISTIOD_ADDRESSES: mesh.istiods.map((istiod) => `${istiod.podName}=${istiod.address}`).join(','),
        UPSTREAM_CA_FILE: mesh.caFile,
        UPSTREAM_SERVER_NAME: DEMO_ISTIOD_SERVER_NAME,
        AUTH_MODE: 'jwks',
        JWT_JWKS_FILE: mesh.jwksFile,
        JWT_ISSUER: mesh.issuer,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      }),
      // The proxy's JSON logs go to stderr so stdout reads like istioctl's output.
      new PinoLogger(process.env.LOG_LEVEL ?? 'warn', pino.destination({ fd: 2, sync: true })),
    );
    const address = `localhost:${grpcPort}`;
    banner(mesh, address);
    const common = ['--address', address, '--token-file', mesh.tokenFile];
    const pod = findPodOnThird(buildDemoMesh());
    let failures = 0;
    for (const command of [['proxy-status'], ['proxy-status', pod], ['x', 'version']]) {
      console.log(`\n$ istioctl ${command.join(' ')}`);
      failures += (await runClient([...command, ...common], (line) => console.log(line))) === 0 ? 0 : 1;
    }
    if (values.serve) {
      console.log(
        `\nServing on ${address} (TLS) until Ctrl-C. Try:\n  npm run client -- proxy-status --address ${address} --token-file ${mesh.tokenFile}`,
      );
      console.log(`  npm run client -- internal-debug syncz --address ${address} --token-file ${mesh.tokenFile}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    return failures === 0 ? 0 : 1;
  } finally {
    await proxy?.close();
    await mesh.stop();
  }
}

function banner(mesh: DemoMesh, address: string): void {
  console.log(`istioctl-proxy demo: proxy on ${address} (TLS), fanning out to ${mesh.istiods.length} simulated istiods:`);
  for (const istiod of mesh.istiods) {
    console.log(`  ${istiod.podName}  ${istiod.address}  istiod ${istiod.version}, ${istiod.proxies.length} sidecars`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof ConfigError ? err.message : ((err as Error)?.stack ?? String(err));
    console.error(`demo failed: ${message}`);
    if (String((err as Error)?.message).includes('EADDRINUSE') || String(err).includes('No address added')) {
      console.error('Is port 9090 or 8080 in use? Set GRPC_PORT / HTTP_PORT to other ports.');
    }
    process.exit(1);
  },
);
