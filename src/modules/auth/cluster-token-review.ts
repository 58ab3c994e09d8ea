import { AuthenticationV1Api, HttpLibrary, KubeConfig, V1TokenReviewStatus, createConfiguration } from '@kubernetes/client-node';
import { CallerIdentity, TokenRejected, TokenUnverifiable, VerifierUnavailable, identityFromSubject } from './caller-identity.js';

export type TokenReviewOutcome = 'authenticated' | 'rejected' | 'error' | 'timeout';

/** TOKENREVIEW_TIMEOUT_MS's default: how long one cluster's API server may take to answer a TokenReview. */
export const DEFAULT_TOKENREVIEW_TIMEOUT_MS = 5_000;

/**
 * Asks one cluster about one token. Throws TokenRejected (a verdict: the token is not valid there),
 * TokenUnverifiable (no verdict, e.g. an HTTP error) or VerifierUnavailable (no answer in time).
 */
export interface TokenReviewer {
  review(token: string, exp: number | undefined): Promise<CallerIdentity>;
}

export interface ClusterTokenReviewOptions {
  /** Put on the identity when the cluster accepts; '' for a cluster without an ID (nothing asserted). */
  clusterId: string;
  kubeConfig: KubeConfig;
  audiences: string[];
  /** TOKENREVIEW_TIMEOUT_MS: the request is aborted past it (its socket closed) and the caller gets UNAVAILABLE. */
  timeoutMs?: number;
  onReview?: (outcome: TokenReviewOutcome) => void;
}

/** One TokenReview call against one cluster's API server: what istiod does for that cluster. */
export class ClusterTokenReview implements TokenReviewer {
  private readonly api: AuthenticationV1Api;
  /** e.g. `TokenReview at https://10.0.0.1:6443 (cluster east)`, for messages. */
  private readonly description: string;

  constructor(private readonly options: ClusterTokenReviewOptions) {
    this.api = options.kubeConfig.makeApiClient(AuthenticationV1Api);
    const server = options.kubeConfig.getCurrentCluster()?.server ?? 'the Kubernetes API';
    this.description = `TokenReview at ${server}${options.clusterId ? ` (cluster ${options.clusterId})` : ''}`;
  }

  async review(token: string, exp: number | undefined): Promise<CallerIdentity> {
    const { audiences, onReview, clusterId, timeoutMs = DEFAULT_TOKENREVIEW_TIMEOUT_MS } = this.options;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    let status: V1TokenReviewStatus | undefined;
    try {
      const result = await this.api.createTokenReview(
        { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } } },
        { httpApi: abortable(abort.signal) },
      );
      status = result.status;
    } catch (err) {
      if (abort.signal.aborted) {
        onReview?.('timeout');
        throw new VerifierUnavailable(`${this.description} did not answer within ${timeoutMs} ms (TOKENREVIEW_TIMEOUT_MS)`);
      }
      onReview?.('error');
      const code = (err as { code?: number }).code;
      throw new TokenUnverifiable(`token could not be verified: TokenReview failed${code ? ` (${code})` : ''}`);
    } finally {
      clearTimeout(timer);
    }
    if (!status?.authenticated || !status.user?.username) {
      onReview?.('rejected');
      throw new TokenRejected(`token rejected by the Kubernetes API${status?.error ? `: ${status.error}` : ''}`);
    }
    // The API's advice to audience-aware clients: an empty status.audiences means the token is only
    // valid for the API server itself, so one of ours must be confirmed, not merely left unmentioned.
    const granted = status.audiences ?? [];
    if (!granted.some((audience) => audiences.includes(audience))) {
      onReview?.('rejected');
      throw new TokenRejected(audienceRefusal(granted, audiences));
    }
    onReview?.('authenticated');
    const identity = identityFromSubject(status.user.username, exp ? exp * 1000 : undefined);
    return clusterId ? { ...identity, clusterId } : identity;
  }
}

function audienceRefusal(granted: string[], expected: string[]): string {
  const verdict =
    granted.length > 0
      ? `the Kubernetes API authenticated it for ${granted.join(', ')} only`
      : 'the Kubernetes API authenticated it without confirming an audience (empty status.audiences: valid for the API server only)';
  return `token audience not accepted: ${verdict} (expected one of: ${expected.join(', ')})`;
}

const defaultHttpApi = createConfiguration().httpApi;

/**
 * client-node's own HTTP library with an abort signal on the request: aborting closes the socket.
 * (Its per-call `middleware` option is typed for observables but run as promises, so the signal is
 * set here, where the types and the runtime agree.)
 */
function abortable(signal: AbortSignal): HttpLibrary {
  return {
    send(request) {
      request.setSignal(signal);
      return defaultHttpApi.send(request);
    },
  };
}
