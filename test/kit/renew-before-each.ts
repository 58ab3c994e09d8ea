import { beforeEach } from 'vitest';

/**
 * Call inside a describe(): sets `fresh()`'s properties on `target` now and again before each test,
 * so that every test sees (and may replace) its own. Returns `target`, with them.
 */
export function renewBeforeEach<T extends object, F extends object>(target: T, fresh: () => F): T & F {
  const renewed = Object.assign(target, fresh());
  beforeEach(() => {
    Object.assign(target, fresh());
  });
  return renewed;
}
