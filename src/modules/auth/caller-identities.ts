import { Metadata } from '@grpc/grpc-js';
import { Injectable } from '@nestjs/common';
import { CallerIdentity } from './caller-identity.js';

/**
 * Hands the identity the guard verified to the handler of the same call. Keyed by the call's
 * metadata object, which Nest passes to both; a WeakMap so nothing outlives the call.
 */
@Injectable()
export class CallerIdentities {
  private readonly byCall = new WeakMap<Metadata, CallerIdentity>();

  set(metadata: Metadata, identity: CallerIdentity): void {
    this.byCall.set(metadata, identity);
  }

  get(metadata: Metadata): CallerIdentity | undefined {
    return this.byCall.get(metadata);
  }
}
