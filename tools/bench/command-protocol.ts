import { createInterface } from 'node:readline';

/**
 * The bench's child processes (istiod fleet, load client) talk to the runner in JSON lines: the child
 * prints `ready` once, then answers each command read from stdin with one `reply` on stdout.
 */
export interface CommandMessage {
  id: number;
  command: string;
  args?: unknown;
}

export type ChildMessage = { type: 'ready'; info: unknown } | { type: 'reply'; id: number; result?: unknown; error?: string };

export const STOP_COMMAND = 'stop';

/** A handler may answer directly or with a promise; the reply is sent once its result settles. */
export type CommandHandlers = Record<string, (args: unknown) => unknown>;

export function writeMessage(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(message)}\n`, () => resolve()));
}

/**
 * Child side: announces `info`, serves commands in arrival order, and on `stop` (or when the runner
 * goes away and stdin closes) runs `shutdown` and exits, so no simulator outlives its bench.
 */
export async function serveCommands(info: unknown, handlers: CommandHandlers, shutdown: () => void | Promise<void>): Promise<void> {
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= Promise.resolve()
      .then(shutdown)
      .finally(() => process.exit(0)));
  const lines = createInterface({ input: process.stdin });
  lines.on('close', () => void stop());
  let queue = Promise.resolve();
  lines.on('line', (line) => {
    if (!line.trim()) return;
    queue = queue.then(() => handle(JSON.parse(line) as CommandMessage));
  });

  async function handle({ id, command, args }: CommandMessage): Promise<void> {
    if (command === STOP_COMMAND) {
      await writeMessage({ type: 'reply', id, result: 'stopping' });
      await stop();
      return;
    }
    const handler = handlers[command];
    try {
      if (!handler) throw new Error(`unknown command ${JSON.stringify(command)}`);
      await writeMessage({ type: 'reply', id, result: await handler(args) });
    } catch (err) {
      await writeMessage({ type: 'reply', id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  }

  await writeMessage({ type: 'ready', info });
}

/** Reads a child's JSON argument (argv[2]); a missing or malformed one is a bench bug, so it throws. */
export function parseJsonArgument<T>(name: string): T {
  const raw = process.argv[2];
  if (!raw) throw new Error(`${name}: expected a JSON spec as the first argument`);
  return JSON.parse(raw) as T;
}
