import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { startDemoMesh, type DemoMesh } from '../../tools/demo/demo-mesh.js';
import { freePort } from './free-port.js';
import { waitFor } from './wait-for.js';

const MAIN_JS = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist/main.js');

/** `node dist/main.js` in PLAINTEXT, serving the demo mesh's istiods with JWKS auth. */
export interface MainProcess {
  child: ChildProcess;
  grpcPort: number;
  httpPort: number;
  /** Everything it has written to stdout and stderr so far. */
  readonly output: string;
  /** Its exit code, once it exits. */
  exited: Promise<number | null>;
}

export interface DemoWithMain {
  readonly demo: DemoMesh;
  /** Spawns dist/main.js against the demo mesh (extra env on top) and waits until it serves ADS. */
  start(env: Record<string, string>): Promise<MainProcess>;
}

/** A demo mesh for the describe block (beforeAll/afterAll), and the main process it spawns, killed at the end. */
export function useDemoWithMain(): DemoWithMain {
  let demo: DemoMesh;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    demo = await startDemoMesh();
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await demo?.stop();
  });

  return {
    get demo() {
      return demo;
    },
    async start(env) {
      const grpcPort = await freePort();
      const httpPort = await freePort();
      const spawned = spawn(process.execPath, [MAIN_JS], {
        env: {
          PATH: process.env.PATH ?? '',
          GRPC_HOST: '127.0.0.1',
          GRPC_PORT: String(grpcPort),
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: String(httpPort),
          PLAINTEXT: 'true',
          DISCOVERY: 'static',
          ISTIOD_ADDRESSES: demo.istiods.map((istiod) => `${istiod.podName}=${istiod.address}`).join(','),
          UPSTREAM_CA_FILE: demo.caFile,
          AUTH_MODE: 'jwks',
          JWT_JWKS_FILE: demo.jwksFile,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = spawned;
      let output = '';
      spawned.stdout?.on('data', (chunk) => (output += chunk));
      spawned.stderr?.on('data', (chunk) => (output += chunk));
      const exited = new Promise<number | null>((resolve) => spawned.on('exit', (code) => resolve(code)));
      expect(await waitFor(() => output.includes('serving ADS on'), 15_000)).toBe(true);
      return {
        child: spawned,
        grpcPort,
        httpPort,
        get output() {
          return output;
        },
        exited,
      };
    },
  };
}

/** `exited`'s code, or 'still running' after `ms`. */
export async function exitCodeWithin(exited: Promise<number | null>, ms: number): Promise<number | null | string> {
  let timer: NodeJS.Timeout | undefined;
  const stillRunning = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running'), ms)));
  try {
    return await Promise.race([exited, stillRunning]);
  } finally {
    clearTimeout(timer);
  }
}
