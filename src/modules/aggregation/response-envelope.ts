import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { DiscoveryRequest, DiscoveryResponse } from '../../common/xds-types.js';
import { InstanceAnswer } from './fanout-result.js';
import { ControlPlaneIdentifier, mergeIdentifiers, parseIdentifier } from './merge/control-plane.js';

/**
 * The envelope every merged response gets, whatever the strategy did: the request's type, a fresh
 * nonce, version_info from the first answer when the strategy left it empty, and one control_plane
 * for the whole control plane (ID = CONTROL_PLANE_ID).
 */
@Injectable()
export class ResponseEnvelope {
  private readonly logger = new Logger('Aggregation');
  /** istiod >= 1.25 sends control_plane on syncz only; remember each replica's for the other types. */
  private readonly identifiers = new Map<string, ControlPlaneIdentifier>();
  private lastVersionMix = '';

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Forgets the replicas not named (pods that left discovery), so only current pods are remembered. */
  retain(names: ReadonlySet<string>): void {
    for (const name of this.identifiers.keys()) if (!names.has(name)) this.identifiers.delete(name);
  }

  wrap(request: DiscoveryRequest, merged: DiscoveryResponse, answers: InstanceAnswer[]): DiscoveryResponse {
    const identifiers: ControlPlaneIdentifier[] = [];
    for (const { instance, response } of answers) {
      const parsed = parseIdentifier(response.control_plane?.identifier);
      if (parsed) this.identifiers.set(instance.name, parsed);
      const known = parsed ?? this.identifiers.get(instance.name);
      if (known) identifiers.push(known);
    }
    const { identifier, mixedVersions } = mergeIdentifiers(identifiers, this.config.controlPlaneId);
    const mix = mixedVersions?.join(',') ?? '';
    // Logged when the mix changes, not on every request; single-answer merges say nothing about it.
    if (mix && mix !== this.lastVersionMix) this.logger.warn(`istiod replicas run different versions: ${mix}`);
    if (identifiers.length > 1) this.lastVersionMix = mix;
    return {
      ...merged,
      type_url: request.type_url,
      nonce: randomUUID(),
      version_info: merged.version_info || answers[0]?.response.version_info || '',
      control_plane: { identifier: JSON.stringify(identifier) },
    };
  }
}
