import { readFileSync } from 'node:fs';
import { SimulatedIstiod } from '../sim/istiod-simulator.js';
import type { SimulatedProxy } from '../sim/simulated-proxy.js';
import { CURRENT_ISTIO_VERSION, generateProxies } from '../sim/mesh-fixtures.js';
import { parseJsonArgument, serveCommands } from './command-protocol.js';
import { MemoizedIstiod } from './memoized-istiod.js';
import { FLEET_COMMANDS, type FleetInfo, type FleetSpec, type ProxyGroupSpec, type RequestCounts } from './fleet-spec.js';

/**
 * `node dist-tools/tools/bench/istiod-fleet.js '<FleetSpec JSON>'`: real TLS gRPC simulated istiods in their own
 * process, so the proxy under test shares no event loop with them. Prints its addresses as the
 * `ready` line, answers `requestCounts`, and stops on `stop` or when stdin closes.
 */
async function main(): Promise<void> {
  const spec = parseJsonArgument<FleetSpec>('istiod-fleet');
  const tls = { certPem: readFileSync(spec.tls.certFile, 'utf8'), keyPem: readFileSync(spec.tls.keyFile, 'utf8') };
  const groups = new Map<string, SimulatedProxy[]>();
  const proxiesOf = (group: ProxyGroupSpec) => {
    const key = `${group.namespace}/${group.prefix}/${group.count}`;
    let proxies = groups.get(key);
    if (!proxies) groups.set(key, (proxies = generateProxies(group.count, { namespace: group.namespace, prefix: group.prefix })));
    return proxies;
  };

  const Istiod = spec.memoizeAnswers ? MemoizedIstiod : SimulatedIstiod;
  const istiods = spec.istiods.map((istiodSpec) => {
    const istiod = new Istiod({
      podName: istiodSpec.name,
      version: CURRENT_ISTIO_VERSION,
      proxies: istiodSpec.proxyGroups.flatMap(proxiesOf),
      tls,
    });
    istiod.knobs.delayMs = istiodSpec.delayMs;
    return istiod;
  });
  await Promise.all(istiods.map((istiod) => istiod.start()));

  const info: FleetInfo = {
    istiods: istiods.map((istiod) => ({ name: istiod.podName, address: istiod.address, proxies: istiod.proxies.length })),
  };
  await serveCommands(info, { [FLEET_COMMANDS.requestCounts]: () => requestCounts(istiods) }, async () => {
    await Promise.all(istiods.map((istiod) => istiod.stop()));
  });
}

function requestCounts(istiods: SimulatedIstiod[]): RequestCounts {
  const counts: RequestCounts = {};
  for (const istiod of istiods) {
    const byType: Record<string, number> = {};
    for (const stream of istiod.streams) {
      for (const request of stream.requests) byType[request.type_url] = (byType[request.type_url] ?? 0) + 1;
    }
    counts[istiod.podName] = byType;
  }
  return counts;
}

main().catch((err: unknown) => {
  console.error(`istiod-fleet failed: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
