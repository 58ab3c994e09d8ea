import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchCredentials } from './bench-credentials.js';
import { loadConfig } from '../../src/config/load-config.js';
import { freePort } from '../../test/kit/free-port.js';
import { readCpu, readCpuMs, readMemory, resetPeakRss, type CpuReading, type ProcessMemory } from './proc-stats.js';

const READY_POLL_MS = 50;
const STOP_GRACE_MS = 10_000;
const OUTPUT_TAIL_CHARS = 8_000;

export interface ProxyProcessOptions {
  mainJs: string;
  /** Replicas to put in ISTIOD_ADDRESSES. */
  istiods: Array<{ name: string; address: string }>;
  credentials: BenchCredentials;
  /** Extra environment, e.g. FANOUT_TIMEOUT_MS; wins over the bench defaults. */
  env?: Record<string, string>;
  /** Node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  startTimeoutMs: number;
  forwardOutput?: boolean;
}

/** The proxy's admission limits, as its own configuration loader reads the bench's environment. */
export interface ProxyLimits {
  maxConcurrentStreams: number;
  maxStreamsPerCaller: number;
  maxInflightAnswerBytes: number;
  answerBudgetMaxWaiting: number;
  answerBudgetWaitMs: number;
  responseCacheMs: number;
  /** FANOUT_TIMEOUT_MS: how long the proxy waits for an istiod's answer. */
  fanoutTimeoutMs: number;
}

/** Proxies started and not yet stopped: killed if the runner exits early, so none outlives the bench. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * `node dist/main.js` configured by environment only, exactly as it runs in production: TLS and token
 * verification towards istioctl, TLS towards the simulated istiods verified with the bench CA.
 */
export class ProxyProcess {
  private output = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly address: string,
    readonly healthUrl: string,
    private readonly env: Record<string, string>,
    forwardOutput: boolean,
  ) {
    const collect = (chunk: string) => {
      if (forwardOutput) process.stderr.write(`[proxy] ${chunk}`);
      this.output = (this.output + chunk).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout?.setEncoding('utf8').on('data', collect);
    child.stderr?.setEncoding('utf8').on('data', collect);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        running.delete(child);
        this.exitCode = code;
        resolve(code);
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get outputTail(): string {
    return this.output;
  }

  static async start(options: ProxyProcessOptions): Promise<ProxyProcess> {
    const grpcPort = await freePort();
    const httpPort = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(grpcPort),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      TLS_CERT_FILE: options.credentials.proxyCertFile,
      TLS_KEY_FILE: options.credentials.proxyKeyFile,
      DISCOVERY: 'static',
      ISTIOD_ADDRESSES: options.istiods.map(({ name, address }) => `${name}=${address}`).join(','),
      UPSTREAM_CA_FILE: options.credentials.caFile,
      // Callers are verified as in production, offline (no Kubernetes API in the bench).
      AUTH_MODE: 'jwks',
      JWT_JWKS_FILE: options.credentials.jwksFile,
      JWT_ISSUER: options.credentials.issuer,
      LOG_LEVEL: 'warn',
      ...options.env,
    };
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), options.mainJs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const proxy = new ProxyProcess(
      child,
      `127.0.0.1:${grpcPort}`,
      `http://127.0.0.1:${httpPort}/healthz`,
      env,
      options.forwardOutput ?? false,
    );
    await proxy.waitReady(options.startTimeoutMs);
    return proxy;
  }

  /**
   * The limits in force. The bench sets none of them (the environment above is built from scratch),
   * so these are the production defaults, the same as deploy/deployment.yaml runs with.
   */
  limits(): ProxyLimits {
    const config = loadConfig(this.env);
    return {
      maxConcurrentStreams: config.maxConcurrentStreams,
      maxStreamsPerCaller: config.maxStreamsPerCaller,
      maxInflightAnswerBytes: config.maxInflightAnswerBytes,
      answerBudgetMaxWaiting: config.answerBudgetMaxWaiting,
      answerBudgetWaitMs: config.answerBudgetWaitMs,
      responseCacheMs: config.responseCacheMs,
      fanoutTimeoutMs: config.fanoutTimeoutMs,
    };
  }

  /**
   * V8's heap (total and used) and external memory from the proxy's own /metrics (prom-client's
   * default Node.js metrics), to split RSS; NaN if they cannot be read. An HTTP request, not an xDS one.
   */
  async runtimeMemory(): Promise<{ heapTotalBytes: number; heapUsedBytes: number; externalBytes: number }> {
    const text = await fetch(this.healthUrl.replace(/\/healthz$/, '/metrics'), { signal: AbortSignal.timeout(5_000) }).then(
      (response) => response.text(),
      () => '',
    );
    const gauge = (name: string) => Number(new RegExp(`^\\w*${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    return {
      heapTotalBytes: gauge('nodejs_heap_size_total_bytes'),
      heapUsedBytes: gauge('nodejs_heap_size_used_bytes'),
      externalBytes: gauge('nodejs_external_memory_bytes'),
    };
  }

  memory(): ProcessMemory {
    return readMemory(this.pid);
  }

  /** VmHWM back to the current RSS; false if /proc would not allow it. */
  resetPeakRss(): boolean {
    return resetPeakRss(this.pid);
  }

  cpuMs(): number {
    return readCpuMs(this.pid);
  }

  /** User and system CPU time and minor page faults so far. */
  cpu(): CpuReading {
    return readCpu(this.pid);
  }

  /** SIGTERM (the proxy's graceful shutdown, which also writes a --cpu-prof profile), SIGKILL if it hangs. */
  async stop(): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** HTTP listens after the gRPC server has bound (bootstrap.ts), so a healthy /healthz means ADS is up. */
  private async waitReady(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.exitCode !== undefined) throw new Error(`the proxy exited with ${this.exitCode} during startup\n${this.output}`);
      const healthy = await fetch(this.healthUrl, { signal: AbortSignal.timeout(1_000) }).then(
        (response) => response.ok,
        () => false,
      );
      if (healthy) return;
      await sleep(READY_POLL_MS);
    }
    await this.stop();
    throw new Error(`the proxy was not ready within ${timeoutMs} ms\n${this.output}`);
  }
}
