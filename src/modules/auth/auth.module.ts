import { Module } from '@nestjs/common';
import { KubernetesModule } from '../kubernetes/kubernetes.module.js';
import { authClustersProvider } from './auth-clusters.provider.js';
import { CallerIdentities } from './caller-identities.js';
import { JwtGuard } from './jwt.guard.js';
import { TokenVerifier } from './token-verifier.js';
import { tokenVerifierProvider } from './token-verifier.provider.js';

@Module({
  imports: [KubernetesModule],
  providers: [CallerIdentities, JwtGuard, authClustersProvider, tokenVerifierProvider],
  exports: [CallerIdentities, JwtGuard, TokenVerifier],
})
export class AuthModule {}
