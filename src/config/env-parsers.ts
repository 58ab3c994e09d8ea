import { ConfigError } from './config.error.js';

export type Env = Record<string, string | undefined>;

/** Small typed readers over the environment; each failure names the variable and what is accepted. */
export class EnvReader {
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const raw = this.env[name]?.trim();
    return raw ? raw : fallback;
  }

  optionalString(name: string): string | undefined {
    const raw = this.env[name]?.trim();
    return raw ? raw : undefined;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.optionalString(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['true', '1', 'yes'].includes(raw)) return true;
    if (['false', '0', 'no'].includes(raw)) return false;
    throw new ConfigError(name, `=${this.env[name]} is not a boolean (accepted: true, false)`);
  }

  integer(name: string, fallback: number, { min, max }: { min: number; max: number }): number {
    const raw = this.optionalString(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) throw new ConfigError(name, `=${raw} is not a whole number`);
    const value = Number(raw);
    if (value < min || value > max) throw new ConfigError(name, `=${raw} is out of range (${min}..${max})`);
    return value;
  }

  port(name: string, fallback: number): number {
    const raw = this.optionalString(name);
    if (raw !== undefined && !/^\d+$/.test(raw)) throw new ConfigError(name, `=${raw} is not a port`);
    return this.integer(name, fallback, { min: 0, max: 65535 });
  }

  choice<T extends string>(name: string, fallback: T, accepted: readonly T[]): T {
    const raw = this.optionalString(name);
    if (raw === undefined) return fallback;
    const value = raw.toLowerCase() as T;
    if (!accepted.includes(value)) {
      throw new ConfigError(name, `=${raw} is not one of: ${accepted.join(', ')}`);
    }
    return value;
  }

  list(name: string): string[] {
    return (this.optionalString(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  }
}
