import { PinoLogger } from '../../src/modules/logging/pino-logger.js';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string; context?: string };

export interface LogCapture {
  /** Pass as the proxy's logger (mesh-harness `logger` option). */
  logger: PinoLogger;
  /** Every raw JSON line written so far, in order. */
  readonly raw: string[];
  /** The parsed lines written so far. */
  lines(): LogLine[];
  /** Parsed lines whose `msg` equals the given text. */
  withMessage(msg: string): LogLine[];
}

/** The proxy's real JSON logger, writing into memory so tests can read (and grep) what it logged. */
export function captureLogs(level: 'debug' | 'info' | 'warn' | 'error' = 'info'): LogCapture {
  const raw: string[] = [];
  const logger = new PinoLogger(level, { write: (chunk: string) => void raw.push(chunk) });
  const lines = () =>
    raw.flatMap((chunk) =>
      chunk
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as LogLine),
    );
  return { logger, raw, lines, withMessage: (msg) => lines().filter((line) => line.msg === msg) };
}
