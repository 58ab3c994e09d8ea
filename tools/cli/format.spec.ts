import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { envoyTypes, typeUrlOf } from '../../src/common/proto.js';
import type { DiscoveryResponse, ProtoAny } from '../../src/common/xds-types.js';
import { formatConfigDumpSummary, formatInternalDebug, formatProxyStatus, formatProxyStatusVerbose, formatVersion } from './format.js';
import { goJsonIndent } from './go-json.js';
import { humanDuration } from './go-time.js';
import { tabwrite } from './tabwriter.js';
import { controlPlaneInfo, decodeClientConfigs, decodeConfigDump } from './xds-decoders.js';

const NOW = new Date('2026-08-22T15:00:00Z');
const CDS = typeUrlOf('envoy.config.cluster.v3.Cluster');
const LDS = typeUrlOf('envoy.config.listener.v3.Listener');
const EDS = typeUrlOf('envoy.config.endpoint.v3.ClusterLoadAssignment');
const RDS = typeUrlOf('envoy.config.route.v3.RouteConfiguration');
const ECDS = typeUrlOf('envoy.config.core.v3.TypedExtensionConfig');
const WDS = typeUrlOf('istio.workload.Address');
const IDENTIFIER = JSON.stringify({
  Component: 'istiod',
  ID: 'istiod-5d9f8-x2k4q',
  Info: { version: '1.27.3', revision: 'abc', golang_version: 'go1.24.6', status: 'Clean', tag: '1.27.3' },
});

function encodeAny(typeName: string, value: Record<string, unknown>): ProtoAny {
  const type = envoyTypes().lookupType(typeName);
  return { type_url: typeUrlOf(typeName), value: Buffer.from(type.encode(type.fromObject(value)).finish()) };
}

function secondsAgo(seconds: number): { seconds: number; nanos: number } {
  return { seconds: NOW.getTime() / 1000 - seconds, nanos: 0 };
}

interface ProxySpec {
  id: string;
  version?: string;
  namespace?: string;
  configs: { type_url: string; config_status: string; agoSeconds?: number }[];
}

function clientConfig({ id, version = '1.27.3', namespace = 'bookinfo', configs }: ProxySpec): ProtoAny {
  return encodeAny('envoy.service.status.v3.ClientConfig', {
    node: {
      id,
      metadata: {
        fields: {
          CLUSTER_ID: { stringValue: 'Kubernetes' },
          NAMESPACE: { stringValue: namespace },
          ISTIO_VERSION: { stringValue: version },
        },
      },
    },
    generic_xds_configs: configs.map(({ type_url, config_status, agoSeconds }) => ({
      type_url,
      config_status,
      ...(agoSeconds === undefined ? {} : { last_updated: secondsAgo(agoSeconds) }),
    })),
  });
}

function response(resources: ProtoAny[], identifier: string | null = IDENTIFIER, typeUrl = 'istio.io/debug/syncz'): DiscoveryResponse {
  return {
    version_info: '2026-08-22T15:00:00Z/7',
    resources,
    type_url: typeUrl,
    nonce: 'n-1',
    control_plane: identifier === null ? null : { identifier },
  };
}

const MESH = [
  clientConfig({
    id: 'reviews-v1-7d8f9-abcde.bookinfo',
    configs: [CDS, LDS, EDS, RDS].map((type_url) => ({ type_url, config_status: 'SYNCED', agoSeconds: 300 })),
  }),
  clientConfig({
    id: 'details-v1-5f7c8-xyz12.bookinfo',
    version: '1.26.1',
    configs: [
      { type_url: CDS, config_status: 'SYNCED', agoSeconds: 42 },
      { type_url: LDS, config_status: 'NOT_SENT' },
      { type_url: RDS, config_status: 'UNKNOWN' },
      { type_url: ECDS, config_status: 'STALE', agoSeconds: 3 * 3600 + 600 },
    ],
  }),
  clientConfig({
    id: 'ztunnel-abcde.istio-system',
    namespace: 'istio-system',
    configs: [{ type_url: WDS, config_status: 'ERROR', agoSeconds: 9 * 24 * 3600 }],
  }),
];

describe('formatProxyStatus', () => {
  it('prints istioctl 1.27 columns, sorted by name, aligned like tabwriter(0, 8, 5)', () => {
    expect(formatProxyStatus(response(MESH), NOW)).toBe(
      [
        'NAME                                CLUSTER        ISTIOD                 VERSION     SUBSCRIBED TYPES',
        'details-v1-5f7c8-xyz12.bookinfo     Kubernetes     istiod-5d9f8-x2k4q     1.26.1      3 (CDS,LDS,ECDS)',
        'reviews-v1-7d8f9-abcde.bookinfo     Kubernetes     istiod-5d9f8-x2k4q     1.27.3      4 (CDS,LDS,EDS,RDS)',
        'ztunnel-abcde.istio-system          Kubernetes     istiod-5d9f8-x2k4q     1.27.3      1 (WDS)',
        '',
      ].join('\n'),
    );
  });

  it('prints only the header when there are no proxies, and MISSING without control_plane', () => {
    expect(formatProxyStatus(response([]), NOW)).toBe('NAME     CLUSTER     ISTIOD     VERSION     SUBSCRIBED TYPES\n');
    expect(formatProxyStatus(response(MESH.slice(0, 1), null), NOW)).toContain('Kubernetes     MISSING     1.27.3');
  });

  it('filters on the proxy NAMESPACE metadata', () => {
    const text = formatProxyStatus(response(MESH), NOW, { namespace: 'istio-system' });
    expect(text.split('\n').filter(Boolean)).toHaveLength(2);
    expect(text).toContain('ztunnel-abcde.istio-system');
  });

  it('rejects a resource that is not a ClientConfig, with istioctl wording', () => {
    const bad = response([...MESH, { type_url: 'istio.io/debug', value: Buffer.from('{}') }]);
    expect(() => formatProxyStatus(bad, NOW)).toThrow(
      'failed to setup status print: could not unmarshal ClientConfig: proto: mismatched message type: got "debug", want "envoy.service.status.v3.ClientConfig"',
    );
  });

  it('falls back to the legacy per-type xds_config of istiod <= 1.22', () => {
    const legacy = encodeAny('envoy.service.status.v3.ClientConfig', {
      node: { id: 'old.default' },
      xds_config: [
        { status: 'SYNCED', cluster_config: {} },
        { status: 'NOT_SENT', listener_config: {} },
      ],
    });
    expect(formatProxyStatus(response([legacy]), NOW)).toContain('2 (CDS,LDS)');
  });
});

describe('formatProxyStatusVerbose', () => {
  it('shows one column per type, known types always, cells with ages', () => {
    const lines = formatProxyStatusVerbose(response(MESH), NOW).split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['NAME', 'CLUSTER', 'CDS', 'ECDS', 'EDS', 'LDS', 'RDS', 'WDS', 'ISTIOD', 'VERSION']);
    expect(lines[1].split(/\s{2,}/)).toEqual([
      'details-v1-5f7c8-xyz12.bookinfo',
      'Kubernetes',
      'SYNCED (42s)',
      'STALE (3h10m)',
      'IGNORED',
      'NOT SENT',
      'IGNORED',
      'IGNORED',
      'istiod-5d9f8-x2k4q',
      '1.26.1',
    ]);
    expect(lines[2]).toContain('SYNCED (5m)');
    expect(lines[3]).toContain('ERROR (9d)');
  });
});

describe('humanDuration (k8s apimachinery)', () => {
  it.each([
    [-3000, '<invalid>'],
    [-1500, '0s'],
    [0, '0s'],
    [119_999, '119s'],
    [120_000, '2m'],
    [125_000, '2m5s'],
    [600_000, '10m'],
    [3 * 3600_000 - 1, '179m'],
    [3 * 3600_000, '3h'],
    [7 * 3600_000 + 60_000, '7h1m'],
    [47 * 3600_000, '47h'],
    [50 * 3600_000, '2d2h'],
    [10 * 86_400_000, '10d'],
    [3 * 365 * 86_400_000, '3y'],
    [(2 * 365 + 3) * 86_400_000, '2y3d'],
    [9 * 365 * 86_400_000, '9y'],
  ])('%d ms -> %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe('tabwrite', () => {
  it('aligns columns per block of lines that have them, like Go', () => {
    const lines = [
      ['a', 'b', 'c'],
      ['aa', 'bb', 'cc'],
      ['aaa', ''],
      ['aaaa', 'dddd', 'eeee'],
    ];
    expect(tabwrite(lines, { minwidth: 0, padding: 1 })).toBe('a    b  c\naa   bb cc\naaa  \naaaa dddd eeee\n');
  });
});

describe('formatVersion', () => {
  const proxies = [
    clientConfig({ id: 'a.ns', version: '1.27.3', configs: [] }),
    clientConfig({ id: 'b.ns', version: '1.26.1', configs: [] }),
    clientConfig({ id: 'a.ns', version: '1.27.3', configs: [] }),
  ];

  it('prints client, control plane and data plane versions, versions sorted, duplicates counted', () => {
    expect(formatVersion(response(proxies), 'test-client 1.0')).toBe(
      'client version: test-client 1.0\ncontrol plane version: 1.27.3\ndata plane version: 1.26.1 (1 proxies), 1.27.3 (2 proxies)\n',
    );
  });

  it('mirrors istioctl for missing and broken identifiers, empty meshes and failed requests', () => {
    expect(formatVersion(response([], null), 'c')).toBe(
      'client version: c\ncontrol plane version: MISSING CP ID\ndata plane version: none\n',
    );
    expect(formatVersion(response([], '{not json'), 'c')).toBe('client version: c\ndata plane version: none\n');
    expect(formatVersion(undefined, 'c')).toBe('client version: c\n');
  });

  it('drops the data plane line on an unexpected resource type', () => {
    const mixed = response([...proxies, { type_url: 'istio.io/debug', value: Buffer.from('x') }]);
    expect(formatVersion(mixed, 'c')).toBe('client version: c\ncontrol plane version: 1.27.3\n');
  });

  it('counts Node resources only for sidecars (PROXY_CONFIG metadata), as istiod <= 1.20 answered', () => {
    const sidecar = encodeAny('envoy.config.core.v3.Node', {
      id: 'sidecar~10.0.0.1~a.ns~ns.svc.cluster.local',
      metadata: { fields: { ISTIO_VERSION: { stringValue: '1.20.0' }, PROXY_CONFIG: { structValue: { fields: {} } } } },
    });
    const debugClient = encodeAny('envoy.config.core.v3.Node', { id: 'istioctl', metadata: { fields: {} } });
    expect(formatVersion(response([sidecar, debugClient]), 'c')).toContain('data plane version: 1.20.0 (1 proxies)\n');
  });
});

describe('controlPlaneInfo', () => {
  it('parses like Go json.Unmarshal: case-insensitive keys, unknown keys ignored', () => {
    const info = controlPlaneInfo(response([], '{"component":"istiod","id":"x","info":{"VERSION":"1.28.0"},"extra":1}'));
    expect(info).toEqual({
      Component: 'istiod',
      ID: 'x',
      Info: { version: '1.28.0', revision: '', golang_version: '', status: '', tag: '' },
    });
  });

  it('returns MISSING and INVALID placeholders', () => {
    expect(controlPlaneInfo(response([], null))).toMatchObject({ ID: 'MISSING', Info: { version: 'MISSING CP ID' } });
    expect(controlPlaneInfo(response([], '{"ID": 5}'))).toMatchObject({ ID: 'INVALID', Info: { version: 'INVALID CP ID' } });
    expect(controlPlaneInfo(response([], ''))).toMatchObject({ ID: 'INVALID' });
  });
});

describe('decodeClientConfigs', () => {
  it('decodes real ClientConfig bytes', () => {
    const [config] = decodeClientConfigs(response(MESH.slice(0, 1)));
    expect(config.node?.id).toBe('reviews-v1-7d8f9-abcde.bookinfo');
    expect(config.generic_xds_configs.map((c) => c.config_status)).toEqual(['SYNCED', 'SYNCED', 'SYNCED', 'SYNCED']);
  });
});

function routeConfigurationAny(name: string): ProtoAny {
  // RouteConfiguration's schema is not vendored; its `name` is field 1, which is all the summary reads.
  return { type_url: RDS, value: Buffer.from(protobuf.Writer.create().uint32(10).string(name).finish()) };
}

function configDumpResponse(): DiscoveryResponse {
  const cluster = (name: string) => ({ cluster: encodeAny('envoy.config.cluster.v3.Cluster', { name }) });
  return response(
    [
      encodeAny('envoy.admin.v3.BootstrapConfigDump', {}),
      encodeAny('envoy.admin.v3.ClustersConfigDump', {
        version_info: '2026-08-22T15:00:00Z/7',
        dynamic_active_clusters: [cluster('BlackHoleCluster'), cluster('outbound|9080||ratings.bookinfo.svc.cluster.local')],
      }),
      encodeAny('envoy.admin.v3.ListenersConfigDump', {
        dynamic_listeners: [
          {
            name: 'virtualOutbound',
            active_state: { listener: encodeAny('envoy.config.listener.v3.Listener', { name: 'virtualOutbound' }) },
          },
        ],
      }),
      encodeAny('envoy.admin.v3.ScopedRoutesConfigDump', {}),
      encodeAny('envoy.admin.v3.RoutesConfigDump', { dynamic_route_configs: [{ route_config: routeConfigurationAny('9080') }] }),
      encodeAny('envoy.admin.v3.SecretsConfigDump', {
        dynamic_active_secrets: [{ secret: encodeAny('envoy.extensions.transport_sockets.tls.v3.Secret', { name: 'default' }) }],
      }),
      encodeAny('envoy.admin.v3.EcdsConfigDump', {}),
    ],
    JSON.stringify({ Component: 'istiod', ID: '<external>', Info: { version: '1.27.3' } }),
    'istio.io/debug/config_dump',
  );
}

describe('formatConfigDumpSummary', () => {
  it("lists istiod's entries per config type", () => {
    expect(formatConfigDumpSummary('reviews-v1-7d8f9-abcde.bookinfo', configDumpResponse())).toBe(
      [
        "Istiod config for reviews-v1-7d8f9-abcde.bookinfo (ISTIOD <external>); Envoy's own config dump is not compared by this client.",
        'Clusters (2)',
        '  BlackHoleCluster',
        '  outbound|9080||ratings.bookinfo.svc.cluster.local',
        'Listeners (1)',
        '  virtualOutbound',
        'Routes (1)',
        '  9080',
        'Secrets (1)',
        '  default',
        '',
      ].join('\n'),
    );
  });

  it('fails like istioctl when no replica knows the proxy', () => {
    expect(() => formatConfigDumpSummary('x.y', response([], null, 'istio.io/debug/config_dump'))).toThrow(
      'unable to find config dump in Istiod responses',
    );
  });

  it('decodes all seven admin dumps', () => {
    expect(decodeConfigDump(configDumpResponse()).map((c) => c.typeName)).toEqual([
      'envoy.admin.v3.BootstrapConfigDump',
      'envoy.admin.v3.ClustersConfigDump',
      'envoy.admin.v3.ListenersConfigDump',
      'envoy.admin.v3.ScopedRoutesConfigDump',
      'envoy.admin.v3.RoutesConfigDump',
      'envoy.admin.v3.SecretsConfigDump',
      'envoy.admin.v3.EcdsConfigDump',
    ]);
  });
});

describe('formatInternalDebug', () => {
  const debug = (...bodies: string[]) =>
    response(
      bodies.map((body) => ({ type_url: 'istio.io/debug', value: Buffer.from(body) })),
      IDENTIFIER,
      'istio.io/debug',
    );

  it('indents JSON like Go json.Indent, keeping scalars verbatim and empty containers compact', () => {
    expect(formatInternalDebug(debug('{"a":[1,2.50,{}],"b":{"c":"x, y: {z}","d":[]},"e":1e3}'))).toBe(
      '{\n  "a": [\n    1,\n    2.50,\n    {}\n  ],\n  "b": {\n    "c": "x, y: {z}",\n    "d": []\n  },\n  "e": 1e3\n}\n',
    );
  });

  it('prints non-JSON bodies raw, each followed by a newline', () => {
    expect(formatInternalDebug(debug('Proxy not connected to this Pilot instance.\n', '[]'))).toBe(
      'Proxy not connected to this Pilot instance.\n\n[]\n',
    );
  });

  it('re-indents pretty input and keeps trailing whitespace, as Go does', () => {
    expect(goJsonIndent(' { "a" :\n 1 }\n')).toBe('{\n  "a": 1\n}\n');
    expect(goJsonIndent('"a\\"b"')).toBe('"a\\"b"');
    expect(goJsonIndent('')).toBeUndefined();
  });
});
