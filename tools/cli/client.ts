import { readFile, realpath } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { DiscoveryResponse } from '../../src/common/xds-types.js';
import { parseClientArgs, UsageError, USAGE, type ClientSettings, type Command } from './client-args.js';
import { formatConfigDumpSummary, formatInternalDebug, formatProxyStatus, formatProxyStatusVerbose, formatVersion } from './format.js';
import { XdsClient } from './xds-client.js';

export const CLIENT_VERSION = 'istioctl-proxy-client 0.1.0';

/** The type URLs istioctl ≥1.21 sends for each command (protocol §2). */
export const TYPE_SYNCZ = 'istio.io/debug/syncz';
export const TYPE_CONFIG_DUMP = 'istio.io/debug/config_dump';
export const TYPE_DEBUG = 'istio.io/debug';

export interface ClientIo {
  /** Diagnostics; defaults to stderr. */
  err?: (line: string) => void;
  /** Environment for the ISTIOCTL_* defaults; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs one istioctl-style command in-process and returns its exit code: 0 ok, 1 failed (`Error: …`
 * on err), 2 bad command line (usage on err). `out` receives stdout one line at a time.
 */
export async function runClient(argv: string[], out: (line: string) => void, io: ClientIo = {}): Promise<number> {
  const err = io.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  let settings: ClientSettings;
  try {
    settings = parseClientArgs(argv, io.env ?? process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    err(`Error: ${error.message}`);
    for (const line of USAGE.trimEnd().split('\n')) err(line);
    return 2;
  }
  const print = (text: string): void => {
    if (text === '') return;
    for (const line of text.replace(/\n$/, '').split('\n')) out(line);
  };
  if (settings.command.kind === 'help') {
    print(USAGE);
    return 0;
  }
  let client: XdsClient | undefined;
  try {
    client = new XdsClient({
      address: settings.address,
      plaintext: settings.plaintext,
      token: settings.tokenFile ? await readSecretFile(settings.tokenFile, 'token') : undefined,
      caPem: settings.caFile ? await readSecretFile(settings.caFile, 'CA') : undefined,
      serverName: settings.serverName,
      istioNamespace: settings.istioNamespace,
    });
    await runCommand(client, settings.command, settings.timeoutMs, print);
    return 0;
  } catch (error) {
    err(`Error: ${(error as Error).message}`);
    return 1;
  } finally {
    client?.close();
  }
}

async function runCommand(client: XdsClient, command: Command, timeoutMs: number, print: (text: string) => void): Promise<void> {
  const request = async (typeUrl: string, names: string[]): Promise<DiscoveryResponse> =>
    (await client.request(typeUrl, names, { timeoutMs })).response;
  switch (command.kind) {
    case 'proxy-status': {
      const response = await request(TYPE_SYNCZ, []);
      const format = command.verbosity > 0 ? formatProxyStatusVerbose : formatProxyStatus;
      print(format(response, new Date(), { namespace: command.namespace }));
      return;
    }
    case 'config-dump':
      print(formatConfigDumpSummary(command.pod, await request(TYPE_CONFIG_DUMP, [command.pod])));
      return;
    case 'version': {
      // istioctl swallows the request error and still prints the client line; we also report it.
      let response: DiscoveryResponse | undefined;
      try {
        response = await request(TYPE_SYNCZ, []);
      } finally {
        print(formatVersion(response, CLIENT_VERSION));
      }
      return;
    }
    case 'internal-debug':
      await internalDebug(command.path, request, print);
      return;
    case 'help':
      print(USAGE);
  }
}

/** internal-debug.go `HandlerForDebugErrors`: a missing proxyID is an error, an unknown path shows the list. */
async function internalDebug(
  path: string,
  request: (typeUrl: string, names: string[]) => Promise<DiscoveryResponse>,
  print: (text: string) => void,
): Promise<void> {
  const response = await request(TYPE_DEBUG, [path]);
  const bodies = response.resources.map((resource) => Buffer.from(resource.value).toString('utf8'));
  if (bodies.some((body) => body.includes('You must provide a proxyID in the query string'))) {
    throw new Error(' You must provide a proxyID in the query string, e.g. [edsz?proxyID=istio-ingressgateway]');
  }
  if (bodies.some((body) => body.includes('404 page not found'))) {
    const list = await request(TYPE_DEBUG, ['list']);
    print('error: according to below command list, please check all supported internal debug commands\n');
    print(formatInternalDebug(list));
    return;
  }
  print(formatInternalDebug(response));
}

async function readSecretFile(path: string, what: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    throw new Error(`could not read ${what} file ${path}: ${(error as Error).message}`, { cause: error });
  }
}

async function isEntryPoint(): Promise<boolean> {
  const script = process.argv[1];
  if (!script) return false;
  const candidates = [script, await realpath(script).catch(() => script)];
  return candidates.some((path) => pathToFileURL(path).href === import.meta.url);
}

/**
 * grpc-js always sends the target host as TLS SNI and Node warns (DEP0123) when that is an IP literal,
 * e.g. `--address 127.0.0.1:9090`; Go simply omits SNI there, so the warning is noise for this tool.
 */
function silenceIpServernameWarning(): void {
  const printWarning = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    if (warning.code === 'DEP0123') return;
    for (const listener of printWarning) listener(warning);
  });
}

if (await isEntryPoint()) {
  silenceIpServernameWarning();
  const code = await runClient(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`));
  process.exit(code);
}
