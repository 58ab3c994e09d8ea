import { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger } from 'pino';

/**
 * Nest's logger interface on top of pino: one JSON object per line on stdout (or the given
 * destination), level from LOG_LEVEL. Nest's "context" becomes a `context` field.
 */
export class PinoLogger implements LoggerService {
  readonly pino: Logger;

  constructor(level: string, destination?: DestinationStream) {
    this.pino = pino(
      {
        level,
        base: { service: 'istioctl-proxy' },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      // Synchronous writes: a line per request is cheap, and nothing is lost when the process exits.
      destination ?? pino.destination({ sync: true }),
    );
  }

  log(message: unknown, context?: string): void {
    this.write('info', message, context);
  }
  error(message: unknown, stackOrContext?: string, context?: string): void {
    this.write('error', message, context ?? stackOrContext);
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('trace', message, context);
  }
  fatal(message: unknown, context?: string): void {
    this.write('fatal', message, context);
  }

  private write(level: pino.Level, message: unknown, context?: string): void {
    if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
      const { msg, ...fields } = message as Record<string, unknown>;
      this.pino[level]({ context, ...fields }, typeof msg === 'string' ? msg : '');
    } else if (message instanceof Error) {
      this.pino[level]({ context, err: message }, message.message);
    } else {
      this.pino[level]({ context }, String(message));
    }
  }
}
