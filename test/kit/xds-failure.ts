import { expect } from 'vitest';
import { XdsStatusError } from '../../tools/cli/xds-errors.js';

/** The XdsStatusError `promise` rejects with (the test fails if it resolves, or rejects otherwise). */
export async function failure(promise: Promise<unknown>): Promise<XdsStatusError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(XdsStatusError);
  return err as XdsStatusError;
}
