/** A configuration problem; its message always names the offending variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid environment: ${variable}${problem.startsWith('=') ? '' : ' '}${problem}`);
    this.name = 'ConfigError';
  }
}
