import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { isIPv4 } from 'node:net';
import { stringStruct, type XdsNode } from '../../src/common/xds-types.js';

/** adsc pins this so istiod treats the debug client as the newest possible proxy (adsc `buildNode`). */
export const ISTIOCTL_NODE_ISTIO_VERSION = '65536.65536.65536';
export const DEFAULT_ISTIO_NAMESPACE = 'istio-system';

/**
 * The node istioctl's adsc puts on its first request: `sidecar~<IP>~test-1.default~default.svc.cluster.local`
 * with the metadata `GetXdsResponse` builds (istio/istio pkg/adsc/adsc.go, istioctl/pkg/xds/client.go).
 * Istiod authorizes the caller's token against NAMESPACE/SERVICE_ACCOUNT, so both must match istioctl's.
 */
export function istioctlNode(istioNamespace: string = DEFAULT_ISTIO_NAMESPACE): XdsNode {
  return {
    id: `sidecar~${firstPrivateIp()}~test-1.default~default.svc.cluster.local`,
    metadata: stringStruct({
      GENERATOR: 'event',
      SERVICE_ACCOUNT: 'default',
      NAMESPACE: istioNamespace,
      ISTIO_VERSION: ISTIOCTL_NODE_ISTIO_VERSION,
    }),
  };
}

/**
 * First address istio's `GetPrivateIPsIfAvailable` would return: up (Node only lists up interfaces),
 * not loopback, not link-local, not unspecified; IPv4-mapped IPv6 unwrapped. '' when there is none,
 * which is what istioctl sends too (istiod then rejects the node id, exactly as it would for istioctl).
 */
export function firstPrivateIp(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string {
  for (const addresses of Object.values(interfaces)) {
    for (const info of addresses ?? []) {
      if (info.internal) continue;
      const address = unmapIPv4(info.address);
      if (isUsableAddress(address)) return address;
    }
  }
  return '';
}

function unmapIPv4(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

function isUsableAddress(address: string): boolean {
  if (isIPv4(address)) {
    return !(address.startsWith('127.') || address.startsWith('169.254.') || address.startsWith('224.0.0.') || address === '0.0.0.0');
  }
  const lower = address.toLowerCase();
  // fe80::/10 is link-local unicast, ffx2::/16 link-local multicast, ::1 loopback, :: unspecified.
  return !(/^fe[89ab]/.test(lower) || /^ff[0-9a-f]2:/.test(lower) || lower === '::1' || lower === '::');
}
