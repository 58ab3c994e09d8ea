import { AppConfig } from '../../src/config/app-config.js';
import { loadConfig } from '../../src/config/load-config.js';

/**
 * The smallest valid configuration a unit spec builds its service on: plaintext serving, one static
 * istiod (x=1.2.3.4:1) reached without verifying its certificate; `env` adds or overrides variables.
 */
export function staticTestConfig(env: Record<string, string> = {}): AppConfig {
  return loadConfig({ PLAINTEXT: 'true', DISCOVERY: 'static', ISTIOD_ADDRESSES: 'x=1.2.3.4:1', UPSTREAM_INSECURE: 'true', ...env });
}
