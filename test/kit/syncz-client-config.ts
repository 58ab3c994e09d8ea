import protobuf from 'protobufjs';
import { envoyTypes, typeUrlOf } from '../../src/common/proto.js';
import { ProtoAny } from '../../src/common/xds-types.js';
import { SynczStrategy } from '../../src/modules/aggregation/merge/syncz.strategy.js';
import { answer, request, response } from './xds-fixtures.js';

/** ClientConfig bytes for the syncz merge and client-config-reader specs: built by protobufjs, or by hand on the wire. */

const SYNCZ = 'istio.io/debug/syncz';
export const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';

export interface ProxySpec {
  cluster?: string;
  /** Per type: status and push time. */
  types?: Array<{ typeUrl: string; status: string; at?: Date }>;
  /** node.metadata keys in this order (Go marshals map entries in random order). */
  metadataOrder?: string[];
}

/** A ClientConfig as istiod's syncz builds it, with the cluster, statuses and map order a test needs. */
export function proxyAny(
  nodeId: string,
  { cluster, types = [{ typeUrl: CDS, status: 'SYNCED' }], metadataOrder }: ProxySpec = {},
): ProtoAny {
  const values: Record<string, string> = { ISTIO_VERSION: '1.27.3', NAMESPACE: nodeId.split('.')[1] ?? '' };
  if (cluster !== undefined) values.CLUSTER_ID = cluster;
  const fields: Record<string, { stringValue: string }> = {};
  for (const key of metadataOrder ?? Object.keys(values)) fields[key] = { stringValue: values[key] };
  const ClientConfig = envoyTypes().lookupType('envoy.service.status.v3.ClientConfig');
  const message = ClientConfig.fromObject({
    node: { id: nodeId, metadata: { fields } },
    generic_xds_configs: types.map(({ typeUrl, status, at }) => ({
      type_url: typeUrl,
      config_status: status,
      ...(at && { last_updated: { seconds: Math.floor(at.getTime() / 1000), nanos: (at.getTime() % 1000) * 1e6 } }),
    })),
  });
  return { type_url: typeUrlOf('envoy.service.status.v3.ClientConfig'), value: Buffer.from(ClientConfig.encode(message).finish()) };
}

/** The resources SynczStrategy answers for one syncz answer per replica (istiod-a, istiod-b, …). */
export function mergeSyncz(perReplica: ProtoAny[][], logs: string[] = []): ProtoAny[] {
  const answers = perReplica.map((resources, i) => answer(`istiod-${String.fromCharCode(97 + i)}`, response(SYNCZ, resources)));
  return new SynczStrategy().merge(request(SYNCZ), answers, { log: (m) => logs.push(m) }).resources;
}

/** One node.metadata map entry as written on the wire, in any field order (Go does not promise one). */
export interface WireEntry {
  key?: string;
  /** A string Value, or a number Value (not a string: reads as ''), or no value field at all. */
  value?: string | number;
  valueFirst?: boolean;
}

export interface WireClientConfig {
  nodeId: string;
  metadata: WireEntry[];
  /** generic_xds_configs: config_status and last_updated (seconds as an int64, nanos). */
  generic: Array<{ status: number; seconds?: bigint; nanos?: number }>;
  /** Deprecated xds_config statuses. */
  legacy: number[];
}

/** Encodes by hand, so map entries can repeat, come value-first or have odd values. */
export function encodeWire({ nodeId, metadata, generic, legacy }: WireClientConfig): Buffer {
  const writer = protobuf.Writer.create();
  writer.uint32((1 << 3) | 2).fork(); // ClientConfig.node
  writer.uint32((1 << 3) | 2).string(nodeId);
  writer.uint32((3 << 3) | 2).fork(); // Node.metadata
  for (const { key, value, valueFirst } of metadata) {
    writer.uint32((1 << 3) | 2).fork(); // Struct.fields entry
    const writeValue = () => {
      if (value === undefined) return;
      writer.uint32((2 << 3) | 2).fork();
      if (typeof value === 'string') writer.uint32((3 << 3) | 2).string(value);
      else writer.uint32((2 << 3) | 1).double(value);
      writer.ldelim();
    };
    if (valueFirst) writeValue();
    if (key !== undefined) writer.uint32((1 << 3) | 2).string(key);
    if (!valueFirst) writeValue();
    writer.ldelim();
  }
  writer.ldelim().ldelim();
  for (const status of legacy)
    writer
      .uint32((2 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 0)
      .int32(status)
      .ldelim();
  for (const { status, seconds, nanos } of generic) {
    writer.uint32((3 << 3) | 2).fork();
    writer.uint32((1 << 3) | 2).string(CDS);
    if (seconds !== undefined) {
      writer.uint32((5 << 3) | 2).fork();
      writer.uint32((1 << 3) | 0).int64(seconds.toString()); // a decimal string: protobufjs parses it exactly (long.js)
      if (nanos !== undefined) writer.uint32((2 << 3) | 0).int32(nanos);
      writer.ldelim();
    }
    writer.uint32((6 << 3) | 0).int32(status);
    writer.ldelim();
  }
  return Buffer.from(writer.finish());
}
