import { ConfigError } from './config/config.error.js';
import { loadConfig } from './config/load-config.js';
import { startProxy } from './bootstrap.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const proxy = await startProxy(config);
  const shutdown = (signal: string) => {
    console.error(`${signal} received, shutting down`);
    void proxy.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : `startup failed: ${(err as Error)?.stack ?? String(err)}`;
  console.error(message);
  process.exit(1);
});
