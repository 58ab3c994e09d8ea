import { CallerIdentity } from './caller-identity.js';
import { TokenVerifier } from './token-verifier.js';

/** AUTH_MODE=none: no verification at all (set explicitly; warned about at start and on /readyz). */
export class NoneVerifier extends TokenVerifier {
  readonly mode = 'none';

  verify(): Promise<CallerIdentity> {
    return Promise.resolve({ subject: 'unverified' });
  }
}
