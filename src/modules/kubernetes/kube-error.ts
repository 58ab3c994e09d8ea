/**
 * A one-line description of a client-node failure: the HTTP status (or error code) and the first
 * line of the message; ApiException messages embed the whole response body.
 */
export function describeKubeError(err: unknown): string {
  const e = err as { statusCode?: number; code?: number | string; message?: string };
  const status = e?.statusCode ?? e?.code;
  const firstLine = (e?.message ?? String(err)).split('\n')[0].slice(0, 200);
  return [status, firstLine].filter(Boolean).join(' ') || String(err);
}
