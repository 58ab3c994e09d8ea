import { parseArgs } from 'node:util';
import { startProxy, type RunningProxy } from '../../src/bootstrap.js';
import { ConfigError } from '../../src/config/config.error.js';
import { loadConfig } from '../../src/config/load-config.js';
import pino from 'pino';
import { PinoLogger } from '../../src/modules/logging/pino-logger.js';
import { runClient } from '../cli/client.js';
import { POD_IN_BOTH_CLUSTERS, RECONNECTED_WITH_STALE_COPY, buildMulticlusterMesh, findPodOnThird } from '../sim/mesh-fixtures.js';
import { startDemoMesh, demoProxyEnv, type DemoCluster, type DemoMesh } from './demo-mesh.js';

/**
 * `npm run demo`: the real proxy on :9090 in front of 3 simulated istiods of an external control
 * plane serving two clusters, queried with the bundled istioctl-style client by callers of both
 * clusters, then exit 0. `npm run demo -- --serve` keeps everything running.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { serve: { type: 'boolean', default: false } } });
  const grpcPort = process.env.GRPC_PORT ?? '9090';
  const mesh = await startDemoMesh({ multicluster: true });
  let proxy: RunningProxy | undefined;
  try {
    proxy = await startProxy(
      loadConfig(
        demoProxyEnv(mesh, {
          grpcPort,
          httpPort: process.env.HTTP_PORT ?? '8080',
          logLevel: process.env.LOG_LEVEL ?? 'warn',
        }),
      ),
      // The proxy's JSON logs go to stderr so stdout reads like istioctl's output.
      new PinoLogger(process.env.LOG_LEVEL ?? 'warn', pino.destination({ fd: 2, sync: true })),
    );
    const address = `localhost:${grpcPort}`;
    banner(mesh, address);
    const [east, west] = mesh.clusters;
    const pod = findPodOnThird(buildMulticlusterMesh());
    const session: Array<[DemoCluster, string[]]> = [
      [east, ['proxy-status']],
      [east, ['proxy-status', pod]],
      [west, ['x', 'version']],
      [west, ['x', 'internal-debug', 'clusterz']],
      // Which replica holds it? Served by the proxy from every replica's syncz, with the caller's token.
      [east, ['x', 'internal-debug', `istioctl-proxy/locate?proxyID=${RECONNECTED_WITH_STALE_COPY}`]],
    ];
    let failures = 0;
    for (const [cluster, command] of session) {
      console.log(`\n$ istioctl ${command.map(shellWord).join(' ')}    # as istio-system/default of cluster ${cluster.id}`);
      const args = [...command, '--address', address, '--token-file', cluster.tokenFile];
      failures += (await runClient(args, (line) => console.log(line))) === 0 ? 0 : 1;
    }
    if (values.serve) {
      console.log(`\nServing on ${address} (TLS) until Ctrl-C. Try:`);
      for (const cluster of mesh.clusters) {
        console.log(`  npm run client -- proxy-status --address ${address} --token-file ${cluster.tokenFile}    # ${cluster.id}`);
      }
      console.log(`  npm run client -- internal-debug syncz --address ${address} --token-file ${east.tokenFile}`);
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

/** An argument as it would be typed in a shell: quoted when it holds `?`, `&` or spaces. */
function shellWord(arg: string): string {
  return /[?&\s*]/.test(arg) ? `'${arg}'` : arg;
}

function banner(mesh: DemoMesh, address: string): void {
  console.log(`istioctl-proxy demo: proxy on ${address} (TLS), fanning out to ${mesh.istiods.length} simulated istiods`);
  console.log(`of one external control plane serving clusters ${mesh.clusters.map((cluster) => cluster.id).join(' and ')}:`);
  for (const istiod of mesh.istiods) {
    const perCluster = mesh.clusters.map(({ id }) => `${istiod.proxies.filter((p) => p.clusterId === id).length} in ${id}`);
    console.log(`  ${istiod.podName}  ${istiod.address}  istiod ${istiod.version}, sidecars: ${perCluster.join(', ')}`);
  }
  for (const cluster of mesh.clusters) console.log(`  cluster ${cluster.id}: TokenReview by its API server at ${cluster.apiUrl}`);
  const holders = mesh.istiods.filter((istiod) => istiod.proxies.some((p) => p.id === RECONNECTED_WITH_STALE_COPY)).map((i) => i.podName);
  console.log(`  ${POD_IN_BOTH_CLUSTERS} runs in both clusters (a StatefulSet pod: same name, two proxies);`);
  console.log(`  ${RECONNECTED_WITH_STALE_COPY} reconnected to ${holders[0]}: ${holders[1]} still holds a dead STALE copy.`);
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
