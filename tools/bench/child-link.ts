import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { STOP_COMMAND, type ChildMessage } from './command-protocol.js';

const STDERR_TAIL_CHARS = 8_000;
const STOP_GRACE_MS = 10_000;

export interface ChildLinkOptions {
  label: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs: number;
  /** Copy the child's stderr to ours as it arrives (otherwise only its tail is shown on failure). */
  forwardStderr?: boolean;
  /** Node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
}

/** The last STDERR_TAIL_CHARS of a child's stderr, shared by start() and the link it returns. */
interface StderrTail {
  text: string;
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** Runner side of command-protocol.ts: one spawned `node <script>` child and its commands. */
export class ChildLink<Info> {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly label: string,
    readonly info: Info,
    private readonly stderr: StderrTail,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start<Info>(script: string, argument: unknown, options: ChildLinkOptions): Promise<ChildLink<Info>> {
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), script, JSON.stringify(argument)], {
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stderr: StderrTail = { text: '' };
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (options.forwardStderr) process.stderr.write(`[${options.label}] ${chunk}`);
      stderr.text = (stderr.text + chunk).slice(-STDERR_TAIL_CHARS);
    });
    const lines = createInterface({ input: child.stdout });
    const info = await new Promise<Info>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${options.label} did not start within ${options.readyTimeoutMs} ms\n${stderr.text}`));
      }, options.readyTimeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${options.label} exited with ${code} before it was ready\n${stderr.text}`));
      });
      const onFirstMessage = (line: string) => {
        const message = parseMessage(line);
        if (!message) return;
        clearTimeout(timer);
        lines.off('line', onFirstMessage);
        if (message.type === 'ready') resolve(message.info as Info);
        else {
          child.kill('SIGKILL');
          reject(new Error(`${options.label} sent ${line} before ready`));
        }
      };
      lines.on('line', onFirstMessage);
    });
    const link = new ChildLink<Info>(child, options.label, info, stderr);
    lines.on('line', (line) => link.onLine(line));
    child.once('exit', (code) => link.onExit(code));
    return link;
  }

  /** Sends one command; rejects on the child's error, on its exit, or after `timeoutMs` (then kills it). */
  call<Result>(command: string, args: unknown, timeoutMs: number): Promise<Result> {
    if (this.exitCode !== undefined) return Promise.reject(this.failure(`has exited (${this.exitCode})`));
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.child.kill('SIGKILL');
        reject(this.failure(`did not answer ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve, reject, timer });
      this.child.stdin!.write(`${JSON.stringify({ id, command, args })}\n`);
    });
  }

  /** Asks the child to stop, then kills it if it has not exited within the grace period. */
  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.stdin!.end(`${JSON.stringify({ id: this.nextId++, command: STOP_COMMAND })}\n`);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private onLine(line: string): void {
    const message = parseMessage(line);
    if (message?.type !== 'reply') return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.error !== undefined) pending.reject(new Error(`${this.label}: ${message.error}`));
    else pending.resolve(message.result);
  }

  private onExit(code: number | null): void {
    this.exitCode = code;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(this.failure(`exited (${code}) while a command was pending`));
      this.pending.delete(id);
    }
  }

  private failure(what: string): Error {
    return new Error(`${this.label} ${what}${this.stderr.text ? `\n--- stderr tail ---\n${this.stderr.text}` : ''}`);
  }
}

/** Protocol lines are JSON objects; anything else a library prints on stdout is ignored. */
function parseMessage(line: string): ChildMessage | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as ChildMessage;
  } catch {
    return undefined;
  }
}
