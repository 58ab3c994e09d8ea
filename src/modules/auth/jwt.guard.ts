import { Metadata, status } from '@grpc/grpc-js';
import { CanActivate, ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { Tracing } from '../tracing/tracing.js';
import { CallerIdentities } from './caller-identities.js';
import { CallerIdentity, TokenRejected, VerifierUnavailable } from './caller-identity.js';
import { TokenVerifier } from './token-verifier.js';
import { VerificationSlots } from './verification-slots.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;
/** token_verifications_total{result} of each refusal. */
const RESULTS: Partial<Record<status, string>> = {
  [status.UNAUTHENTICATED]: 'unauthenticated',
  [status.PERMISSION_DENIED]: 'permission_denied',
  [status.UNAVAILABLE]: 'unavailable',
};
/** A caller-chosen `clusterid` is echoed in errors and logs only this far. */
const MAX_ECHOED_CLUSTER_ID = 128;
export const MISSING_TOKEN_MESSAGE =
  'missing bearer token in the "authorization" metadata: istioctl sends its token only in its default mode, ' +
  'not with --plaintext or --cert-dir; drop those flags (TLS is served on this port)';

/**
 * Runs before any fan-out: no istiod is contacted for a caller whose token does not verify. Throws
 * RpcException (a guard returning false would surface as UNKNOWN); messages never echo the token.
 * While the token is verified the call holds a stream slot (VerificationSlots), given back when
 * verification ends: the stream takes its own slot if the call goes on.
 */
@Injectable()
export class JwtGuard implements CanActivate {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly verifier: TokenVerifier,
    private readonly identities: CallerIdentities,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly slots: VerificationSlots,
    private readonly tracing: Tracing = Tracing.off,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const metadata = context.switchToRpc().getContext<Metadata>();
    const identity = await this.tracing.traceVerification(metadata, this.verifier.mode, async () => {
      const verified = await this.authenticate(metadata);
      this.checkClusterId(metadata, verified);
      this.authorize(verified);
      return verified;
    });
    this.metrics.tokenVerifications.inc({ mode: this.verifier.mode, result: 'ok' });
    this.identities.set(metadata, identity);
    return true;
  }

  private async authenticate(metadata: Metadata): Promise<CallerIdentity> {
    if (this.verifier.mode === 'none') return this.verifier.verify('');
    const header = metadata.get('authorization')[0];
    if (header === undefined || header === '') throw this.reject(status.UNAUTHENTICATED, MISSING_TOKEN_MESSAGE);
    const token = BEARER.exec(header.toString())?.[1];
    if (!token) throw this.reject(status.UNAUTHENTICATED, 'malformed "authorization" metadata: expected "Bearer <token>"');
    // Held until verification ends, even if the caller cancels meanwhile: the review still runs.
    const release = this.slots.acquirePending();
    try {
      return await this.verifier.verify(token);
    } catch (err) {
      // The verifier did not answer: the caller did nothing wrong and may retry.
      if (err instanceof VerifierUnavailable) throw this.reject(status.UNAVAILABLE, `token verification unavailable: ${err.reason}`);
      const reason = err instanceof TokenRejected ? err.reason : 'token could not be verified';
      throw this.reject(status.UNAUTHENTICATED, `authentication failed: ${reason}`);
    } finally {
      release();
    }
  }

  /**
   * The proxy sends istiod `clusterid` = the cluster that accepted the token; a caller claiming
   * another one would have istiod review the token against the wrong cluster, so it is refused.
   */
  private checkClusterId(metadata: Metadata, identity: CallerIdentity): void {
    if (!identity.clusterId) return;
    for (const value of metadata.get('clusterid')) {
      const claimed = String(value);
      if (claimed === identity.clusterId) continue;
      throw this.reject(
        status.PERMISSION_DENIED,
        `clusterid ${JSON.stringify(claimed.slice(0, MAX_ECHOED_CLUSTER_ID))} does not match the cluster ` +
          `${JSON.stringify(identity.clusterId)} that issued the token`,
      );
    }
  }

  private authorize(identity: CallerIdentity): void {
    const { authAllowedNamespaces: namespaces, authAllowedSubjects: subjects } = this.config;
    if (namespaces.length === 0 && subjects.length === 0) return;
    const allowed = subjects.includes(identity.subject) || (!!identity.namespace && namespaces.includes(identity.namespace));
    if (!allowed) {
      throw this.reject(
        status.PERMISSION_DENIED,
        `caller ${identity.subject} is not allowed by AUTH_ALLOWED_NAMESPACES/AUTH_ALLOWED_SUBJECTS`,
      );
    }
  }

  private reject(code: status, message: string): RpcException {
    this.metrics.tokenVerifications.inc({ mode: this.verifier.mode, result: RESULTS[code] ?? 'unauthenticated' });
    this.logger.warn(`rejected a call: ${message}`);
    return new RpcException({ code, message });
  }
}
