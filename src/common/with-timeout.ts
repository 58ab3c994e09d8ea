/**
 * `work`'s result, or `onTimeout()`'s once `timeoutMs` has passed first. The timer is cleared as soon
 * as either settles, so nothing keeps the process alive afterwards.
 */
export function withTimeout<T, F>(work: Promise<T>, timeoutMs: number, onTimeout: () => F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), timeoutMs);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
