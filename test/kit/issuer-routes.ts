import type { TokenIssuer } from './test-tokens.js';
import type { FakeKubeApi } from './fake-kube-api.js';

export interface ReviewCounter {
  count: number;
  /** Delay before each TokenReview answer (a slow API server). */
  delayMs: number;
}

/**
 * Makes the test Kubernetes API the issuer of ServiceAccount tokens: TokenReview (what the default
 * AUTH_MODE=tokenreview calls) and the OIDC discovery + JWKS endpoints (AUTH_MODE=jwks).
 */
export function serveTokenIssuer(kube: FakeKubeApi, tokens: TokenIssuer, reviews: ReviewCounter = { count: 0, delayMs: 0 }): ReviewCounter {
  kube.route('POST', /^\/apis\/authentication\.k8s\.io\/v1\/tokenreviews$/, async (_req, res, body) => {
    reviews.count++;
    if (reviews.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, reviews.delayMs));
    const review = JSON.parse(body) as { spec: { token: string; audiences?: string[] } };
    const status = await tokens
      .verify(review.spec.token, review.spec.audiences)
      .then((sa) => ({ authenticated: true, user: { username: sa.subject }, audiences: review.spec.audiences }))
      .catch((err: Error) => ({ authenticated: false, error: err.message }));
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: review.spec, status }));
  });
  kube.route('GET', /^\/\.well-known\/openid-configuration$/, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ issuer: tokens.issuer, jwks_uri: `${kube.url}/openid/v1/jwks` }));
  });
  kube.route('GET', /^\/openid\/v1\/jwks$/, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(tokens.jwks));
  });
  return reviews;
}
