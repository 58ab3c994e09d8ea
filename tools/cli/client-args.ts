import { parseArgs } from 'node:util';
import { parseGoDuration } from './go-time.js';
import { DEFAULT_TIMEOUT_MS } from './xds-client.js';

export const DEFAULT_XDS_ADDRESS = 'localhost:9090';

export const USAGE = `Usage: client <command> [flags]

Commands (istioctl equivalents; a leading "x" or "experimental" is accepted):
  proxy-status | ps                 sync status of every proxy (istio.io/debug/syncz)
  proxy-status <pod>[.<namespace>]  istiod's config for one proxy (istio.io/debug/config_dump)
  version                           client, control plane and data plane versions (x version)
  internal-debug <path> | --list    an istiod debug endpoint, e.g. syncz or configz (istio.io/debug)

Flags:
  --address host:port      proxy address (env ISTIOCTL_XDS_ADDRESS, default ${DEFAULT_XDS_ADDRESS})
  --token-file F           file holding the bearer token (env ISTIOCTL_PROXY_TOKEN_FILE)
  --plaintext              h2c instead of TLS (env ISTIOCTL_PLAINTEXT=true)
  --ca-file F              verify the server against these PEM roots (default: no verification, like istioctl)
  --server-name N          TLS server name to send and verify
  -i, --istio-namespace ns namespace in the node metadata (env ISTIOCTL_ISTIONAMESPACE, default istio-system)
  --timeout 30s            how long to wait for the answer (Go duration)
  -n, --namespace ns       proxy-status: only proxies in ns; default namespace for <pod>
  -v, --verbosity 0|1      proxy-status: 1 shows one column per xDS type
  -L, --list               internal-debug: list the debug paths
`;

export type Command =
  | { kind: 'proxy-status'; verbosity: number; namespace?: string }
  | { kind: 'config-dump'; pod: string }
  | { kind: 'version' }
  | { kind: 'internal-debug'; path: string }
  | { kind: 'help' };

export interface ClientSettings {
  command: Command;
  address: string;
  tokenFile?: string;
  plaintext: boolean;
  caFile?: string;
  serverName?: string;
  istioNamespace: string;
  timeoutMs: number;
}

/** A bad command line: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

export function parseClientArgs(argv: string[], env: NodeJS.ProcessEnv): ClientSettings {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        address: { type: 'string' },
        'token-file': { type: 'string' },
        plaintext: { type: 'boolean' },
        'ca-file': { type: 'string' },
        'server-name': { type: 'string' },
        'istio-namespace': { type: 'string', short: 'i' },
        timeout: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        verbosity: { type: 'string', short: 'v' },
        list: { type: 'boolean', short: 'L' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  return {
    command: parseCommand(positionals, values),
    address: values.address ?? (env.ISTIOCTL_XDS_ADDRESS || DEFAULT_XDS_ADDRESS),
    tokenFile: values['token-file'] ?? (env.ISTIOCTL_PROXY_TOKEN_FILE || undefined),
    plaintext: values.plaintext ?? env.ISTIOCTL_PLAINTEXT === 'true',
    caFile: values['ca-file'],
    serverName: values['server-name'],
    istioNamespace: values['istio-namespace'] ?? (env.ISTIOCTL_ISTIONAMESPACE || 'istio-system'),
    timeoutMs: parseTimeout(values.timeout),
  };
}

interface CommandFlags {
  help?: boolean;
  namespace?: string;
  verbosity?: string;
  list?: boolean;
}

function parseCommand(positionals: string[], flags: CommandFlags): Command {
  if (flags.help) return { kind: 'help' };
  const words = positionals[0] === 'x' || positionals[0] === 'experimental' ? positionals.slice(1) : positionals;
  const [name, argument, ...extra] = words;
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  switch (name) {
    case 'proxy-status':
    case 'ps':
      if (argument !== undefined) return { kind: 'config-dump', pod: podName(argument, flags.namespace ?? 'default') };
      return { kind: 'proxy-status', verbosity: parseVerbosity(flags.verbosity), namespace: flags.namespace };
    case 'version':
      if (argument !== undefined) throw new UsageError(`unknown command "${argument}" for "version"`);
      return { kind: 'version' };
    case 'internal-debug':
      if (flags.list) return { kind: 'internal-debug', path: 'list' };
      if (argument === undefined) {
        throw new UsageError('debug type is required, you can specify --list flag to list supported debug types');
      }
      return { kind: 'internal-debug', path: argument };
    case undefined:
      throw new UsageError('a command is required');
    default:
      throw new UsageError(`unknown command "${name}"`);
  }
}

/** istioctl `inferNsInfo`: the namespace follows the last '.'; only pod references are resolvable here. */
function podName(reference: string, defaultNamespace: string): string {
  const slash = reference.lastIndexOf('/');
  if (slash > 0 && !/^pods?$/.test(reference.slice(0, slash))) {
    throw new UsageError(`only pods can be resolved without Kubernetes access: ${reference}`);
  }
  const name = slash > 0 ? reference.slice(slash + 1) : reference;
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name : `${name}.${defaultNamespace}`;
}

function parseVerbosity(text: string | undefined): number {
  if (text === undefined) return 0;
  if (!/^\d+$/.test(text)) throw new UsageError(`invalid verbosity "${text}"`);
  return Number(text);
}

function parseTimeout(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TIMEOUT_MS;
  try {
    return parseGoDuration(text);
  } catch (error) {
    throw new UsageError(`invalid --timeout: ${(error as Error).message}`);
  }
}
