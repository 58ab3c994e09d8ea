import { ConfigError } from './config/config.error.js';
import { loadConfig } from './config/load-config.js';
import { startProxy } from './bootstrap.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const proxy = await startProxy(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal} received, draining and shutting down\n`);
    proxy.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : `startup failed: ${(err as Error)?.stack ?? String(err)}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
