import type { DiscoveryResponse, XdsNode } from '../../src/common/xds-types.js';
import { summarizeConfigDump } from './config-dump-summary.js';
import { goJsonIndent } from './go-json.js';
import { parseNodeMetadata } from './node-metadata.js';
import { compareStrings, IGNORED_STATUS, KNOWN_TYPES, proxyStatusTable, shortType, type ProxyStatusTable } from './proxy-status-rows.js';
import { tabwrite } from './tabwriter.js';
import {
  CLIENT_CONFIG_TYPE,
  controlPlaneInfo,
  decodeAnyAs,
  decodeConfigDump,
  NODE_TYPE,
  parseControlPlaneIdentifier,
  type ClientConfig,
} from './xds-decoders.js';

/** Every formatter returns the exact bytes istioctl would write to stdout, newline-terminated. */
export interface ProxyStatusOptions {
  /** istioctl `--namespace`: keep proxies whose NAMESPACE metadata matches. */
  namespace?: string;
}

/** `istioctl proxy-status` (≥1.27 table): NAME CLUSTER ISTIOD VERSION SUBSCRIBED TYPES, sorted by NAME. */
export function formatProxyStatus(response: DiscoveryResponse, now: Date = new Date(), options: ProxyStatusOptions = {}): string {
  const { rows, types } = setupStatusTable(response, now, options);
  const lines = [['NAME', 'CLUSTER', 'ISTIOD', 'VERSION', 'SUBSCRIBED TYPES']];
  for (const row of rows) {
    const subscribed = types.filter((type) => row.typeStatus.has(type) && row.typeStatus.get(type) !== IGNORED_STATUS).map(shortType);
    const cell = subscribed.length > 0 ? `${subscribed.length} (${subscribed.join(',')})` : '0';
    lines.push([row.proxyId, row.clusterId, row.istiodId, row.istioVersion, cell]);
  }
  return tabwrite(lines);
}

/** `istioctl proxy-status -v 1`: one column per xDS type (CDS ECDS EDS LDS RDS at least, by URL). */
export function formatProxyStatusVerbose(response: DiscoveryResponse, now: Date = new Date(), options: ProxyStatusOptions = {}): string {
  const { rows, types } = setupStatusTable(response, now, options);
  const columns = [...new Set([...types, ...KNOWN_TYPES])].sort(compareStrings);
  const lines = [['NAME', 'CLUSTER', ...columns.map(shortType), 'ISTIOD', 'VERSION']];
  for (const row of rows) {
    const cells = columns.map((type) => row.typeStatus.get(type) ?? IGNORED_STATUS);
    lines.push([row.proxyId, row.clusterId, ...cells, row.istiodId, row.istioVersion]);
  }
  return tabwrite(lines);
}

function setupStatusTable(response: DiscoveryResponse, now: Date, options: ProxyStatusOptions): ProxyStatusTable {
  try {
    return proxyStatusTable(response, now, options.namespace);
  } catch (error) {
    throw new Error(`failed to setup status print: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * `istioctl x version` (short form, which that command forces). No response means the request
 * failed: istioctl then prints only the client line. An unparsable identifier drops the control
 * plane line; an unexpected resource type drops the data plane line.
 */
export function formatVersion(response: DiscoveryResponse | undefined, clientVersion: string): string {
  let text = `client version: ${clientVersion}\n`;
  if (!response) return text;
  const controlPlane = response.control_plane
    ? parseControlPlaneIdentifier(response.control_plane.identifier)?.Info.version
    : 'MISSING CP ID';
  if (controlPlane !== undefined) text += `control plane version: ${controlPlane}\n`;
  const proxies = proxyVersions(response);
  if (proxies) text += `data plane version: ${renderProxyVersions(proxies)}\n`;
  return text;
}

/** version.go `xdsProxyVersionWrapper`: undefined where istioctl's wrapper returns an error. */
function proxyVersions(response: DiscoveryResponse): string[] | undefined {
  const versions: string[] = [];
  try {
    for (const resource of response.resources) {
      if (resource.type_url === `type.googleapis.com/${CLIENT_CONFIG_TYPE}`) {
        versions.push(sidecarVersion(decodeAnyAs<ClientConfig>(resource, CLIENT_CONFIG_TYPE, 'Node').node));
      } else if (resource.type_url === `type.googleapis.com/${NODE_TYPE}`) {
        const node = decodeAnyAs<XdsNode>(resource, NODE_TYPE, 'Node');
        // istioctl's own and other debug connections carry no PROXY_CONFIG and are skipped.
        if (isSidecar(node)) versions.push(sidecarVersion(node));
      } else {
        return undefined;
      }
    }
  } catch {
    return undefined;
  }
  return versions;
}

function isSidecar(node: XdsNode): boolean {
  try {
    return parseNodeMetadata(node.metadata).hasProxyConfig;
  } catch {
    return false;
  }
}

function sidecarVersion(node: XdsNode | null): string {
  try {
    return parseNodeMetadata(node?.metadata).istioVersion;
  } catch {
    return 'unknown sidecar version';
  }
}

/** pkg/version `renderProxyVersions`: versions sorted as strings, every proxy counted. */
function renderProxyVersions(versions: string[]): string {
  if (versions.length === 0) return 'none';
  const counts = new Map<string, number>();
  for (const version of versions) counts.set(version, (counts.get(version) ?? 0) + 1);
  return [...counts.keys()]
    .sort(compareStrings)
    .map((version) => `${version} (${counts.get(version)} proxies)`)
    .join(', ');
}

export const CONFIG_DUMP_NOT_FOUND = 'unable to find config dump in Istiod responses';

/**
 * `istioctl proxy-status <pod>.<ns>` without the Envoy side: this client cannot reach the pod's admin
 * port, so it lists what istiod would send instead of diffing. Throws istioctl's error when no
 * replica had the proxy (zero resources).
 */
export function formatConfigDumpSummary(pod: string, response: DiscoveryResponse): string {
  if (response.resources.length === 0) throw new Error(CONFIG_DUMP_NOT_FOUND);
  const istiod = response.control_plane ? controlPlaneInfo(response).ID : '<external>';
  let text = `Istiod config for ${pod} (ISTIOD ${istiod}); Envoy's own config dump is not compared by this client.\n`;
  for (const { label, names } of summarizeConfigDump(decodeConfigDump(response))) {
    text += `${label} (${names.length})\n`;
    for (const name of names) text += `  ${name}\n`;
  }
  return text;
}

/** `istioctl x internal-debug <path>`: each body indented when it is JSON, raw otherwise, then a newline. */
export function formatInternalDebug(response: DiscoveryResponse): string {
  let text = '';
  for (const resource of response.resources) {
    const body = Buffer.from(resource.value).toString('utf8');
    text += `${goJsonIndent(body) ?? body}\n`;
  }
  return text;
}
