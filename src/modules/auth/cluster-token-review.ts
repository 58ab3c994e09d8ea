import { AuthenticationV1Api, KubeConfig } from '@kubernetes/client-node';
import { CallerIdentity, TokenRejected, identityFromSubject } from './caller-identity.js';

export type TokenReviewOutcome = 'authenticated' | 'rejected' | 'error';

/** Asks one cluster about one token; throws TokenRejected naming the failed check. */
export interface TokenReviewer {
  review(token: string, exp: number | undefined): Promise<CallerIdentity>;
}

export interface ClusterTokenReviewOptions {
  /** Put on the identity when the cluster accepts; '' for a cluster without an ID (nothing asserted). */
  clusterId: string;
  kubeConfig: KubeConfig;
  audiences: string[];
  onReview?: (outcome: TokenReviewOutcome) => void;
}

/** One TokenReview call against one cluster's API server: what istiod does for that cluster. */
export class ClusterTokenReview implements TokenReviewer {
  private readonly api: AuthenticationV1Api;

  constructor(private readonly options: ClusterTokenReviewOptions) {
    this.api = options.kubeConfig.makeApiClient(AuthenticationV1Api);
  }

  async review(token: string, exp: number | undefined): Promise<CallerIdentity> {
    const { audiences, onReview, clusterId } = this.options;
    let status;
    try {
      const result = await this.api.createTokenReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } },
      });
      status = result.status;
    } catch (err) {
      onReview?.('error');
      const code = (err as { code?: number }).code;
      throw new TokenRejected(`token could not be verified: TokenReview failed${code ? ` (${code})` : ''}`);
    }
    if (!status?.authenticated || !status.user?.username) {
      onReview?.('rejected');
      throw new TokenRejected(`token rejected by the Kubernetes API${status?.error ? `: ${status.error}` : ''}`);
    }
    const granted = status.audiences ?? [];
    if (granted.length > 0 && !granted.some((audience) => audiences.includes(audience))) {
      onReview?.('rejected');
      throw new TokenRejected(`token audience not accepted (expected one of: ${audiences.join(', ')})`);
    }
    onReview?.('authenticated');
    const identity = identityFromSubject(status.user.username, exp ? exp * 1000 : undefined);
    return clusterId ? { ...identity, clusterId } : identity;
  }
}
