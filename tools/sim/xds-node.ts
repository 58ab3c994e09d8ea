import { isIP } from 'node:net';
import { status } from '@grpc/grpc-js';
import { structString, type XdsNode } from '../../src/common/xds-types.js';
import { ISTIOD_MESSAGES, XdsStatusError, spiffeId } from './xds-status.js';

const NODE_ID_SEPARATOR = '~';
const NODE_TYPES = ['sidecar', 'router', 'waypoint', 'ztunnel'];

export interface CallerIdentity {
  namespace: string;
  serviceAccount: string;
}

/**
 * istiod's `initProxyMetadata` checks (pilot/pkg/model/context.go `ParseServiceNodeWithMetadata`):
 * `<type>~<ip>~<id>~<domain>` with a known type and an IP in the id or in INSTANCE_IPS.
 */
export function validateNode(node: XdsNode | null): XdsNode {
  if (!node?.id) throw new XdsStatusError(status.INVALID_ARGUMENT, ISTIOD_MESSAGES.missingNode);
  const quoted = JSON.stringify(node.id);
  const parts = node.id.split(NODE_ID_SEPARATOR);
  if (parts.length !== 4) {
    throw new XdsStatusError(status.INVALID_ARGUMENT, `missing parts in the service node ${quoted}`);
  }
  if (!NODE_TYPES.includes(parts[0])) {
    throw new XdsStatusError(
      status.INVALID_ARGUMENT,
      `invalid node type (valid types: [${NODE_TYPES.join(' ')}]) in the service node ${quoted}`,
    );
  }
  const instanceIps = (structString(node.metadata, 'INSTANCE_IPS') ?? '').split(',');
  if (!isIP(parts[1]) && !instanceIps.some((ip) => isIP(ip))) {
    throw new XdsStatusError(status.INVALID_ARGUMENT, 'no valid IP address in the service node id or metadata');
  }
  return node;
}

/** istiod's `authorize`: the verified identity must be the one the node claims to run as. */
export function authorizeNode(node: XdsNode, identity: CallerIdentity | undefined): void {
  if (!identity) return;
  const nodeNamespace = structString(node.metadata, 'NAMESPACE') ?? '';
  const nodeServiceAccount = structString(node.metadata, 'SERVICE_ACCOUNT') ?? '';
  if (identity.namespace === nodeNamespace && identity.serviceAccount === nodeServiceAccount) return;
  throw new XdsStatusError(
    status.PERMISSION_DENIED,
    `authorization failed: no identities ([${spiffeId(identity.namespace, identity.serviceAccount)}]) matched ${nodeNamespace}/${nodeServiceAccount}`,
  );
}
