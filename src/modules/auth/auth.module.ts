import { Module } from '@nestjs/common';
import { KubernetesModule } from '../kubernetes/kubernetes.module.js';
import { authClustersProvider } from './auth-clusters.provider.js';
import { CallerIdentities } from './caller-identities.js';
import { TokenVerifier } from './token-verifier.js';
import { tokenVerifierProvider } from './token-verifier.provider.js';

/**
 * JwtGuard is not a provider here: it is built where `@UseGuards(JwtGuard)` is, in the controller's
 * module, which also provides the VerificationSlots it needs (the stream limits).
 */
@Module({
  imports: [KubernetesModule],
  providers: [CallerIdentities, authClustersProvider, tokenVerifierProvider],
  exports: [CallerIdentities, TokenVerifier],
})
export class AuthModule {}
