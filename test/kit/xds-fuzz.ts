import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { DiscoveryRequest, ProtoStruct, ProtoValue, XdsNode } from '../../src/common/xds-types.js';

/**
 * fast-check generators for hostile istioctl traffic (test/fuzz.e2e-spec.ts): DiscoveryRequests that
 * are valid-ish or mutated, call metadata, and raw gRPC frames. Everything here is data; the spec
 * turns it into bytes on real sockets. Huge values are generated as (fill, size) and expanded late,
 * so shrinking and printing a counterexample stay cheap.
 */

export const SYNCZ = 'istio.io/debug/syncz';
export const CONFIG_DUMP = 'istio.io/debug/config_dump';
export const DEBUG = 'istio.io/debug';
export const KNOWN_TYPE_URLS = [
  SYNCZ,
  CONFIG_DUMP,
  DEBUG,
  'istio.io/connections',
  'istio.io/connect',
  'istio.io/debug/adsz',
  'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  'type.googleapis.com/envoy.config.listener.v3.Listener',
  'type.googleapis.com/envoy.service.status.v3.ClientConfig',
  '',
];

const KIB = 1024;
const MIB = 1024 * KIB;

/** A string of `size` copies of `fill`, built only when a case runs. */
export interface HugeString {
  huge: { fill: string; size: number };
}
export type FuzzString = string | HugeString;

export function expand(value: FuzzString): string {
  return typeof value === 'string' ? value : value.huge.fill.repeat(value.huge.size);
}

// ---------------------------------------------------------------------------------------------
// strings

const unicode = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }), // lone surrogates, controls, NUL
  fc.string({ maxLength: 24 }),
);
const printable = fc.string({ unit: 'grapheme-ascii', maxLength: 40 });

/** `min`..`max` bytes of a 1-, 2-, 3- or 4-byte UTF-8 character (or NUL). */
function hugeString(min: number, max: number): fc.Arbitrary<HugeString> {
  return fc
    .record({ fill: fc.constantFrom('x', 'é', '€', '😀', '?', '\u0000'), size: fc.integer({ min, max }) })
    .map(({ fill, size }) => ({ huge: { fill, size: Math.ceil(size / Buffer.byteLength(fill)) } }));
}

/**
 * Sizes of strings that istiod echoes into its error message (the node id), which the proxy joins
 * over every replica into its own (bounded) status: from 1 KiB to 1 MiB.
 */
const echoedHuge = hugeString(KIB, MIB);

// ---------------------------------------------------------------------------------------------
// DiscoveryRequest

const structKey = fc.oneof(
  fc.constantFrom(
    'NAMESPACE',
    'SERVICE_ACCOUNT',
    'GENERATOR',
    'ISTIO_VERSION',
    'CLUSTER_ID',
    'INSTANCE_IPS',
    '__proto__',
    'constructor',
    '',
  ),
  unicode,
);

const { struct: structArb } = fc.letrec<{ value: ProtoValue; struct: ProtoStruct }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.record({ nullValue: fc.constant('NULL_VALUE') }),
    fc.record({ numberValue: fc.double() }), // NaN, ±Infinity, -0 included
    fc.record({ stringValue: unicode }),
    fc.record({ boolValue: fc.boolean() }),
    fc.record({ structValue: tie('struct') }),
    fc.record({ listValue: fc.record({ values: fc.array(tie('value'), { maxLength: 4 }) }) }),
  ),
  struct: fc.record({ fields: fc.dictionary(structKey, tie('value'), { maxKeys: 5 }) }),
}));

/** The node istioctl sends (token of istio-system/default matches it), with an IP the simulated istiod accepts. */
export const VALID_NODE_ID = 'sidecar~10.1.2.3~test-1.default~default.svc.cluster.local';
const VALID_METADATA: Record<string, string> = {
  GENERATOR: 'event',
  SERVICE_ACCOUNT: 'default',
  NAMESPACE: 'istio-system',
  ISTIO_VERSION: '65536.65536.65536',
};

export interface NodeSpec {
  id: FuzzString;
  /** Start from istioctl's metadata (else only the random fields). */
  istioctlMetadata: boolean;
  extraMetadata: ProtoStruct;
  cluster?: string;
  userAgentName?: string;
  clientFeatures?: string[];
  locality?: { region: string; zone: string; sub_zone: string };
}

const nodeSpec: fc.Arbitrary<NodeSpec> = fc.record(
  {
    id: fc.oneof(
      { weight: 20, arbitrary: fc.constant(VALID_NODE_ID) },
      { weight: 1, arbitrary: fc.constant('') },
      { weight: 2, arbitrary: unicode },
      { weight: 1, arbitrary: fc.constantFrom('router~::1~x~y', 'sidecar~~~', '~~~', 'ztunnel~10.0.0.1~a~b~c') },
      { weight: 1, arbitrary: echoedHuge },
    ),
    istioctlMetadata: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    extraMetadata: structArb,
    cluster: unicode,
    userAgentName: unicode,
    clientFeatures: fc.array(unicode, { maxLength: 3 }),
    locality: fc.record({ region: unicode, zone: unicode, sub_zone: unicode }),
  },
  { requiredKeys: ['id', 'istioctlMetadata', 'extraMetadata'] },
);

export function buildNode(spec: NodeSpec): XdsNode {
  const fields: Record<string, ProtoValue> = {};
  if (spec.istioctlMetadata) {
    for (const [key, value] of Object.entries(VALID_METADATA)) fields[key] = { stringValue: value };
  }
  // Random fields may override istioctl's (a NAMESPACE that does not match the token, say).
  for (const [key, value] of Object.entries(spec.extraMetadata.fields)) {
    Object.defineProperty(fields, key, { value, enumerable: true, writable: true, configurable: true });
  }
  const node: XdsNode = { id: expand(spec.id), metadata: { fields } };
  if (spec.cluster !== undefined) node.cluster = spec.cluster;
  if (spec.userAgentName !== undefined) node.user_agent_name = spec.userAgentName;
  if (spec.clientFeatures !== undefined) node.client_features = spec.clientFeatures;
  if (spec.locality !== undefined) node.locality = spec.locality;
  return node;
}

/** Which `response_nonce` to send; replays are resolved against what the proxy actually sent. */
export type NonceSpec =
  | { kind: 'empty' }
  | { kind: 'literal'; value: string }
  /** A nonce the proxy sent on some earlier stream (never an ACK here). */
  | { kind: 'replaySeen'; index: number }
  /** A nonce the proxy sent on this stream: an ACK if `sameType`, else a foreign nonce. */
  | { kind: 'replayStream'; index: number; sameType: boolean };

const nonceSpec: fc.Arbitrary<NonceSpec> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'empty' as const }) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(fc.constant('2024-01-02 03:04:05.123456789 +0000 UTC m=+0.000000001'), fc.uuid(), unicode)
      .map((value) => ({ kind: 'literal' as const, value })),
  },
  { weight: 2, arbitrary: fc.nat(64).map((index) => ({ kind: 'replaySeen' as const, index })) },
  {
    weight: 3,
    arbitrary: fc.record({ index: fc.nat(8), sameType: fc.boolean() }).map((r) => ({ kind: 'replayStream' as const, ...r })),
  },
);

export interface RequestSpec {
  typeUrl: FuzzString;
  resourceNames: FuzzString[];
  /** null: none (istioctl after its first request). */
  node: NodeSpec | null;
  versionInfo: string;
  nonce: NonceSpec;
  errorDetail?: { code: number; message: string };
}

/**
 * `nodeWeight`: how much likelier a node is than none (high for a stream's first request).
 * `huge`: whether resource names may be 1 KiB..6 MiB (off for raw HTTP/2 bodies: Node's client
 * stalls writing ~10 MB to a stream the server does not read, whoever the server is).
 */
export function requestSpec({
  pods,
  nodeWeight,
  huge = true,
}: {
  pods: string[];
  nodeWeight: number;
  huge?: boolean;
}): fc.Arbitrary<RequestSpec> {
  const typeUrl = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...KNOWN_TYPE_URLS) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...KNOWN_TYPE_URLS), unicode).map(([known, tail]) => known + tail) },
    { weight: 2, arbitrary: unicode },
    { weight: 1, arbitrary: fc.string({ minLength: 200, maxLength: 4 * KIB, unit: 'grapheme-ascii' }) },
  );
  const debugPath = fc.constantFrom(
    'syncz',
    'adsz',
    'config_dump',
    'list',
    'configz',
    'push_status',
    'instancesz',
    'connections',
    'mesh',
    'registryz',
    'cachez',
    'krtz',
    '/debug/syncz/',
    'nosuchz',
    '',
  );
  const resourceName = fc.oneof(
    { weight: 60, arbitrary: debugPath },
    { weight: 40, arbitrary: fc.constantFrom(...pods) },
    {
      weight: 40,
      arbitrary: fc
        .tuple(debugPath, fc.oneof(fc.constantFrom('pretty', 'proxyID=', 'push=true', 'clear=true', '&&==', '%zz'), unicode))
        .map(([path, query]) => `${path}?${query}`),
    },
    { weight: 30, arbitrary: unicode },
    { weight: huge ? 8 : 0, arbitrary: hugeString(KIB, MIB) },
    { weight: huge ? 1 : 0, arbitrary: hugeString(5 * MIB, 6 * MIB) }, // past MAX_MESSAGE_BYTES
  );
  return fc.record(
    {
      typeUrl,
      resourceNames: fc.array(resourceName, { maxLength: 4 }),
      node: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: nodeWeight, arbitrary: nodeSpec }),
      versionInfo: fc.oneof(fc.constant(''), unicode),
      nonce: nonceSpec,
      errorDetail: fc.record({ code: fc.integer({ min: -1, max: 20 }), message: unicode }),
    },
    { requiredKeys: ['typeUrl', 'resourceNames', 'node', 'versionInfo', 'nonce'] },
  );
}

/** What this stream has received so far, to resolve replayed nonces. */
export interface NonceContext {
  /** Nonces the proxy sent on earlier streams (any type). */
  seen: readonly string[];
  /** Responses received on this stream, in order. */
  received: ReadonlyArray<{ type_url: string; nonce: string }>;
}

export function buildRequest(spec: RequestSpec, context: NonceContext): DiscoveryRequest {
  let typeUrl = expand(spec.typeUrl);
  let nonce = '';
  const { nonce: n } = spec;
  if (n.kind === 'literal') nonce = n.value;
  else if (n.kind === 'replaySeen' && context.seen.length > 0) nonce = context.seen[n.index % context.seen.length];
  else if (n.kind === 'replayStream' && context.received.length > 0) {
    const earlier = context.received[n.index % context.received.length];
    nonce = earlier.nonce;
    if (n.sameType) typeUrl = earlier.type_url;
  }
  const request: DiscoveryRequest = {
    version_info: spec.versionInfo,
    node: spec.node ? buildNode(spec.node) : null,
    resource_names: spec.resourceNames.map(expand),
    type_url: typeUrl,
    response_nonce: nonce,
  };
  if (spec.errorDetail) request.error_detail = spec.errorDetail;
  return request;
}

// ---------------------------------------------------------------------------------------------
// byte-level mutation

export type ByteMutation =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'varint'; at: number }; // an overlong/unterminated varint (0xff ...)

export const byteMutations: fc.Arbitrary<ByteMutation[]> = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ op: fc.constant('varint' as const), at: fc.nat() }),
  ),
  { minLength: 1, maxLength: 4 },
);

export function mutate(input: Buffer, mutations: ByteMutation[]): Buffer {
  let bytes = Buffer.from(input);
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % (bytes.length + 1);
    switch (m.op) {
      case 'flip':
        if (bytes.length > 0) bytes[at % bytes.length] ^= m.mask;
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.count)]);
        break;
      case 'varint':
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.alloc(11, 0xff), bytes.subarray(at)]);
        break;
    }
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// call metadata

export type TokenKind = 'valid' | 'otherNamespace' | 'expired' | 'wrongAudience' | 'notYetValid' | 'foreignIssuer';

export type AuthorizationSpec =
  | { kind: 'missing' }
  | { kind: 'bearer'; token: TokenKind }
  /** Accepted by the proxy (case-insensitive), rejected by istiod (`Bearer ` only). */
  | { kind: 'lowercaseBearer'; token: TokenKind }
  | { kind: 'twice'; first: TokenKind; second: string }
  | { kind: 'garbageBearer'; value: string }
  | { kind: 'nonBearer'; scheme: string; value: string }
  | { kind: 'raw'; value: string };

export interface MetadataSpec {
  authorization: AuthorizationSpec;
  clusterId?: string;
  extra: Record<string, string>;
  extraBinary?: Uint8Array;
}

const tokenKind = fc.oneof(
  { weight: 20, arbitrary: fc.constant<TokenKind>('valid') },
  { weight: 3, arbitrary: fc.constantFrom<TokenKind>('otherNamespace', 'expired', 'wrongAudience', 'notYetValid', 'foreignIssuer') },
);

const authorization: fc.Arbitrary<AuthorizationSpec> = fc.oneof(
  { weight: 48, arbitrary: tokenKind.map((token) => ({ kind: 'bearer' as const, token })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'missing' as const }) },
  { weight: 1, arbitrary: tokenKind.map((token) => ({ kind: 'lowercaseBearer' as const, token })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('twice' as const), first: tokenKind, second: printable }) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(printable, fc.constantFrom('a.b.c', 'eyJhbGciOiJub25lIn0.e30.', '.', '..', ' '))
      .map((value) => ({ kind: 'garbageBearer' as const, value })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('nonBearer' as const),
      scheme: fc.constantFrom('Basic', 'Token', 'Bearer:', ''),
      value: printable,
    }),
  },
  { weight: 1, arbitrary: printable.map((value) => ({ kind: 'raw' as const, value })) },
);

const RESERVED_KEYS = new Set(['te', 'content-type', 'authorization', 'clusterid', 'user-agent', 'host']);

export const metadataSpec: fc.Arbitrary<MetadataSpec> = fc.record(
  {
    authorization,
    clusterId: fc.oneof(fc.constantFrom('Kubernetes', 'cluster-1', ''), printable),
    extra: fc.dictionary(
      fc
        .stringMatching(/^[a-z][a-z0-9_.-]{0,15}$/)
        .filter((key) => !RESERVED_KEYS.has(key) && !key.startsWith('grpc-') && !key.endsWith('-bin')),
      printable,
      { maxKeys: 4 },
    ),
    extraBinary: fc.uint8Array({ maxLength: 64 }),
  },
  { requiredKeys: ['authorization', 'extra'] },
);

// ---------------------------------------------------------------------------------------------
// raw gRPC frames

export type FrameSpec =
  | { kind: 'valid'; request: RequestSpec }
  | { kind: 'mutated'; request: RequestSpec; mutations: ByteMutation[] }
  /** Bytes with no gRPC framing at all. */
  | { kind: 'unframed'; bytes: Uint8Array }
  /** A well-formed frame around random bytes. */
  | { kind: 'randomPayload'; bytes: Uint8Array }
  /** The declared length is off by `delta` (the rest of the stream is then misread). */
  | { kind: 'wrongLength'; request: RequestSpec; delta: number }
  /** Compressed flag set; `gzip` actually compresses it (valid only with grpc-encoding: gzip). */
  | { kind: 'compressed'; request: RequestSpec; gzip: boolean }
  /** 8 MiB of zeros gzipped to a few KiB: past MAX_MESSAGE_BYTES once inflated. */
  | { kind: 'gzipBomb' }
  /** The declared length is complete, the body is cut short. */
  | { kind: 'truncated'; request: RequestSpec; keepPermille: number }
  /** Only the 5-byte prefix of a huge message, no body. */
  | { kind: 'oversizedPrefix'; length: number }
  /** A flag byte other than 0/1. */
  | { kind: 'badFlag'; request: RequestSpec; flag: number };

export function frameSpec(request: fc.Arbitrary<RequestSpec>): fc.Arbitrary<FrameSpec> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('valid' as const), request }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('mutated' as const), request, mutations: byteMutations }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('unframed' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 256 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('randomPayload' as const), bytes: fc.uint8Array({ maxLength: 512 }) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('wrongLength' as const),
        request,
        delta: fc.integer({ min: -64, max: 64 }).filter((d) => d !== 0),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('compressed' as const), request, gzip: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'gzipBomb' as const }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('truncated' as const), request, keepPermille: fc.integer({ min: 0, max: 999 }) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('oversizedPrefix' as const),
        length: fc.constantFrom(0x7fffffff, 0xffffffff, 4 * MIB + 1, 64 * MIB),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('badFlag' as const), request, flag: fc.integer({ min: 2, max: 255 }) }) },
  );
}

/** Prefix + body, with the flag byte and declared length given explicitly. */
export function grpcFrame(body: Buffer, { flag = 0, length = body.length } = {}): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(flag, 0);
  prefix.writeUInt32BE(length >>> 0, 1);
  return Buffer.concat([prefix, body]);
}

let bomb: Buffer | undefined;

/** The bytes of one frame; `encode` serializes a resolved request. */
export function frameBytes(frame: FrameSpec, encode: (spec: RequestSpec) => Buffer): Buffer {
  switch (frame.kind) {
    case 'valid':
      return grpcFrame(encode(frame.request));
    case 'mutated':
      return grpcFrame(mutate(encode(frame.request), frame.mutations));
    case 'unframed':
      return Buffer.from(frame.bytes);
    case 'randomPayload':
      return grpcFrame(Buffer.from(frame.bytes));
    case 'wrongLength': {
      const body = encode(frame.request);
      return grpcFrame(body, { length: Math.max(0, body.length + frame.delta) });
    }
    case 'compressed': {
      const body = encode(frame.request);
      return grpcFrame(frame.gzip ? gzipSync(body) : body, { flag: 1 });
    }
    case 'gzipBomb':
      bomb ??= gzipSync(Buffer.alloc(8 * MIB));
      return grpcFrame(bomb, { flag: 1 });
    case 'truncated': {
      const body = encode(frame.request);
      return grpcFrame(body.subarray(0, Math.floor((body.length * frame.keepPermille) / 1000)), { length: body.length });
    }
    case 'oversizedPrefix':
      return grpcFrame(Buffer.alloc(0), { length: frame.length });
    case 'badFlag':
      return grpcFrame(encode(frame.request), { flag: frame.flag });
  }
}

/** Frames whose prefix alone is past MAX_MESSAGE_BYTES: grpc-js must end the call without waiting for a body. */
export function declaresOversize(frame: FrameSpec, maxMessageBytes: number): boolean {
  return frame.kind === 'oversizedPrefix' && frame.length > maxMessageBytes;
}
