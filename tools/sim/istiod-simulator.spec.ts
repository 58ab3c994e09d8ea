import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { TO_OBJECT_OPTIONS, adsClientConstructor, envoyTypes } from '../../src/common/proto.js';
import { createCertificateAuthority } from '../../src/modules/tls/pki.js';
import { stringStruct, type DiscoveryRequest, type DiscoveryResponse, type ProtoAny } from '../../src/common/xds-types.js';
import { NOT_CONNECTED_BODY, MISSING_PROXY_ID_BODY, NOT_FOUND_BODY } from './debug-endpoints.js';
import { SimulatedIstiod } from './istiod-simulator.js';
import { buildDemoMesh, findPodOnThird, generateProxies } from './mesh-fixtures.js';
import { XDS_TYPE_URLS } from './simulated-proxy.js';
import { defaultKnobs } from './simulator-knobs.js';
import { createTokenIssuer, type TokenIssuer } from '../../test/kit/test-tokens.js';

const SERVER_NAME = 'istiod.istio-system.svc';
const ANSWER_TIMEOUT_MS = 2_000;
const SILENCE_MS = 150;

type AdsStream = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
interface AdsClient extends grpc.Client {
  StreamAggregatedResources(metadata: grpc.Metadata): AdsStream;
  DeltaAggregatedResources(metadata: grpc.Metadata): AdsStream;
}

/** The node istioctl's adsc sends (protocol.md §2). */
function istioctlNode(namespace = 'istio-system', serviceAccount = 'default') {
  return {
    id: 'sidecar~10.1.2.3~test-1.default~default.svc.cluster.local',
    metadata: stringStruct({
      GENERATOR: 'event',
      SERVICE_ACCOUNT: serviceAccount,
      NAMESPACE: namespace,
      ISTIO_VERSION: '65536.65536.65536',
    }),
  };
}

function request(typeUrl: string, resourceNames: string[] = [], node: DiscoveryRequest['node'] = istioctlNode()): DiscoveryRequest {
  return {
    version_info: '',
    node,
    resource_names: resourceNames,
    type_url: typeUrl,
    response_nonce: '2026-08-22 15:00:18.1234 +0000 UTC m=+0.41',
  };
}

function nextResponse(stream: AdsStream, timeoutMs = ANSWER_TIMEOUT_MS): Promise<DiscoveryResponse> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(new Error('timeout'))), timeoutMs);
    const onData = (response: DiscoveryResponse) => finish(() => resolve(response));
    const onError = (error: Error) => finish(() => reject(error));
    function finish(settle: () => void) {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('error', onError);
      settle();
    }
    stream.on('data', onData);
    stream.on('error', onError);
  });
}

async function expectStatus(stream: AdsStream, code: grpc.status, details?: string | RegExp): Promise<void> {
  const error = (await nextResponse(stream).then(
    () => Promise.reject(new Error('expected an error status, got a response')),
    (failure: unknown) => failure,
  )) as grpc.ServiceError;
  expect(error.code).toBe(code);
  if (details !== undefined) expect(error.details).toMatch(details);
}

function decode(typeName: string, any: ProtoAny): Record<string, unknown> {
  const type = envoyTypes().lookupType(typeName);
  return type.toObject(type.decode(any.value), TO_OBJECT_OPTIONS);
}

function until(predicate: () => boolean, timeoutMs = ANSWER_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (predicate()) resolve();
      else if (Date.now() > deadline) reject(new Error('condition not reached'));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

describe('SimulatedIstiod', () => {
  const [firstReplica] = buildDemoMesh();
  let tokens: TokenIssuer;
  let sut: SimulatedIstiod;
  let client: AdsClient;
  let operatorToken: string;
  const opened: AdsStream[] = [];

  function open(metadata: Record<string, string> = { authorization: `Bearer ${operatorToken}` }): AdsStream {
    const grpcMetadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(metadata)) grpcMetadata.set(key, value);
    const stream = client.StreamAggregatedResources(grpcMetadata);
    stream.on('error', () => undefined); // asserted through nextResponse
    opened.push(stream);
    return stream;
  }

  async function ask(req: DiscoveryRequest, stream = open()): Promise<DiscoveryResponse> {
    stream.write(req);
    return nextResponse(stream);
  }

  beforeAll(async () => {
    const ca = await createCertificateAuthority();
    const serving = await ca.issue({ commonName: 'istiod', dnsNames: [SERVER_NAME], ips: ['127.0.0.1'] });
    tokens = await createTokenIssuer();
    operatorToken = await tokens.mint({ namespace: 'istio-system', serviceAccount: 'default' });
    sut = new SimulatedIstiod({
      ...firstReplica,
      tls: serving,
      verifyToken: (token) => tokens.verify(token),
      knownClusterIds: ['Kubernetes'],
      debugBodies: { custom: 'custom body\n' },
    });
    await sut.start();
    const Client = adsClientConstructor();
    client = new Client(sut.address, grpc.credentials.createSsl(Buffer.from(ca.certPem)), {
      'grpc.ssl_target_name_override': SERVER_NAME,
      'grpc.default_authority': SERVER_NAME,
      'grpc.max_receive_message_length': -1,
    }) as unknown as AdsClient;
  });

  beforeEach(() => {
    Object.assign(sut.knobs, defaultKnobs());
    sut.proxies = [...(firstReplica.proxies ?? [])];
    for (const stream of opened.splice(0)) stream.cancel();
  });

  afterAll(async () => {
    for (const stream of opened.splice(0)) stream.cancel();
    client?.close();
    await sut?.stop();
  });

  describe('syncz', () => {
    it('answers one decoded ClientConfig per proxy, with control_plane naming the pod', async () => {
      const response = await ask(request('istio.io/debug/syncz'));

      expect(response.type_url).toBe('istio.io/debug/syncz');
      expect(response.version_info).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\/\d+$/);
      expect(response.nonce.startsWith(response.version_info)).toBe(true);
      expect(JSON.parse(response.control_plane?.identifier ?? '')).toMatchObject({
        Component: 'istiod',
        ID: 'istiod-7d4b9c8f6-abcde',
        Info: { version: '1.27.3', tag: '1.27.3', golang_version: 'go1.24.6', status: 'Clean' },
      });
      expect(response.resources).toHaveLength(firstReplica.proxies?.length ?? 0);
      const configs = response.resources.map((any) => {
        expect(any.type_url).toBe('type.googleapis.com/envoy.service.status.v3.ClientConfig');
        return decode('envoy.service.status.v3.ClientConfig', any);
      });
      expect(configs[1]).toMatchObject({
        node: {
          id: 'productpage-v1-6b746f74dc-9stvs.bookinfo',
          metadata: {
            fields: {
              CLUSTER_ID: { stringValue: 'Kubernetes' },
              NAMESPACE: { stringValue: 'bookinfo' },
              ISTIO_VERSION: { stringValue: '1.27.3' },
            },
          },
        },
        generic_xds_configs: expect.arrayContaining([
          expect.objectContaining({ type_url: XDS_TYPE_URLS.CDS, config_status: 'SYNCED', last_updated: expect.anything() as unknown }),
        ]) as unknown,
      });
    });

    it('reports NACKed types as ERROR with the NACK text', async () => {
      const secondReplica = buildDemoMesh()[1];
      sut.proxies = secondReplica.proxies ?? [];
      const response = await ask(request('istio.io/debug/syncz'));
      const reviewsV2 = response.resources
        .map((any) => decode('envoy.service.status.v3.ClientConfig', any))
        .find((config) => (config.node as { id: string }).id.startsWith('reviews-v2'));
      expect(reviewsV2?.generic_xds_configs).toContainEqual(
        expect.objectContaining({
          type_url: XDS_TYPE_URLS.LDS,
          config_status: 'ERROR',
          error_state: expect.objectContaining({ details: expect.stringContaining('0.0.0.0_9080') as unknown }) as unknown,
        }),
      );
    });

    it('switches to the ≤1.22 fixed entries without last_updated', async () => {
      sut.knobs.legacySyncz = true;
      const response = await ask(request('istio.io/debug/syncz'));
      const config = decode('envoy.service.status.v3.ClientConfig', response.resources[0]);
      const entries = config.generic_xds_configs as { type_url: string; last_updated: unknown }[];
      expect(entries.map((entry) => entry.type_url)).toEqual([
        XDS_TYPE_URLS.CDS,
        XDS_TYPE_URLS.LDS,
        XDS_TYPE_URLS.EDS,
        XDS_TYPE_URLS.RDS,
        XDS_TYPE_URLS.ECDS,
      ]);
      expect(entries.every((entry) => entry.last_updated === null)).toBe(true);
    });

    it('follows runtime changes to the proxy list', async () => {
      sut.proxies.push(...generateProxies(2, { namespace: 'load' }));
      const response = await ask(request('istio.io/debug/syncz'));
      expect(response.resources).toHaveLength((firstReplica.proxies?.length ?? 0) + 2);
    });

    it('shows a caller outside istio-system only its own namespace when the filter is on', async () => {
      sut.knobs.namespaceFilter = true;
      const token = await tokens.mint({ namespace: 'bookinfo', serviceAccount: 'reader' });
      const stream = open({ authorization: `Bearer ${token}` });
      const response = await ask(request('istio.io/debug/syncz', [], istioctlNode('bookinfo', 'reader')), stream);
      const namespaces = response.resources.map(
        (any) => (decode('envoy.service.status.v3.ClientConfig', any).node as { id: string }).id.split('.')[1],
      );
      expect(namespaces.length).toBeGreaterThan(0);
      expect(new Set(namespaces)).toEqual(new Set(['bookinfo']));
    });

    it('pads answers beyond grpc-js’s 4 MiB default', async () => {
      sut.knobs.paddingBytes = 5 * 1024 * 1024;
      const response = await ask(request('istio.io/debug/syncz'));
      const total = response.resources.reduce((sum, any) => sum + any.value.length, 0);
      expect(total).toBeGreaterThan(5 * 1024 * 1024);
    });
  });

  describe('config_dump', () => {
    it('answers the seven config dumps of the first proxy whose connection id contains the name', async () => {
      const response = await ask(request('istio.io/debug/config_dump', ['reviews-v1']));

      expect(response.control_plane).toBeNull();
      expect(response.resources.map((any) => any.type_url)).toEqual(
        ['Bootstrap', 'Clusters', 'Listeners', 'ScopedRoutes', 'Routes', 'Secrets', 'Ecds'].map(
          (kind) => `type.googleapis.com/envoy.admin.v3.${kind}ConfigDump`,
        ),
      );
      expect(response.resources[0].value.length).toBe(0);
      const clusters = decode('envoy.admin.v3.ClustersConfigDump', response.resources[1]);
      const active = clusters.dynamic_active_clusters as { cluster: ProtoAny }[];
      expect(active[0].cluster.type_url).toBe(XDS_TYPE_URLS.CDS);
      expect(Buffer.from(active[0].cluster.value).toString()).toContain('BlackHoleCluster');
      const listeners = decode('envoy.admin.v3.ListenersConfigDump', response.resources[2]);
      expect(listeners.dynamic_listeners).toContainEqual(expect.objectContaining({ name: 'virtualInbound' }));
    });

    it('answers zero resources, not an error, for an unknown proxy or several names', async () => {
      const stream = open();
      expect((await ask(request('istio.io/debug/config_dump', ['nowhere-0.default']), stream)).resources).toEqual([]);
      expect((await ask(request('istio.io/debug/config_dump', ['reviews', 'ratings']), stream)).resources).toEqual([]);
    });
  });

  describe('istio.io/debug', () => {
    async function body(resourceName: string): Promise<string> {
      const response = await ask(request('istio.io/debug', [resourceName]));
      expect(response.resources).toHaveLength(1);
      expect(response.resources[0].type_url).toBe('istio.io/debug');
      return Buffer.from(response.resources[0].value).toString('utf8');
    }

    it('serves realistic JSON bodies, compact unless ?pretty', async () => {
      const syncz = JSON.parse(await body('syncz')) as { proxy: string; cluster_acked?: string }[];
      expect(syncz.map((entry) => entry.proxy)).toContain('reviews-v1-545db77b95-2qxgw.bookinfo');
      const adsz = JSON.parse(await body('adsz')) as { totalClients: number; clients: { connectionId: string }[] };
      expect(adsz.totalClients).toBe(firstReplica.proxies?.length);
      expect(adsz.clients[0].connectionId).toMatch(/^istio-ingressgateway-.*\.istio-system-\d+$/);
      expect(Object.keys(JSON.parse(await body('instancesz')) as Record<string, unknown>)).toContain(
        'ratings-v1-5f9699cfdf-8dbvk.bookinfo',
      );
      expect(JSON.parse(await body('list'))).toEqual(expect.arrayContaining(['adsz', 'config_dump', 'syncz']));
      expect(JSON.parse(await body('push_status'))).toMatchObject({ pilot: 'istiod-7d4b9c8f6-abcde' });
      expect(await body('configz')).not.toContain('\n');
      expect(await body('configz?pretty')).toContain('\n  ');
    });

    it('writes istiod’s error texts as bodies', async () => {
      expect(await body('config_dump')).toBe(MISSING_PROXY_ID_BODY);
      expect(await body('config_dump?proxyID=ghost.nowhere')).toBe(NOT_CONNECTED_BODY);
      expect(JSON.parse(await body('config_dump?proxyID=ratings-v1'))).toHaveProperty('configs');
      expect(await body('no-such-path')).toBe(NOT_FOUND_BODY);
      expect(await body('custom?x=1')).toBe('custom body\n');
    });
  });

  describe('stream lifecycle', () => {
    it('never closes: answers every request on the stream, ACKs included', async () => {
      const stream = open();
      const first = await ask(request('istio.io/debug/syncz'), stream);
      const ack = { ...request('istio.io/debug/syncz'), node: null, response_nonce: first.nonce, version_info: first.version_info };
      const second = await ask(ack, stream);
      const other = await ask(request('istio.io/connections'), stream);
      expect(second.nonce).not.toBe(first.nonce);
      expect(other).toMatchObject({ type_url: 'istio.io/connections', resources: [], control_plane: null });
      expect(sut.streams.at(-1)?.requests).toHaveLength(3);
    });

    it('records metadata, node and identity of each stream', async () => {
      const stream = open({ authorization: `Bearer ${operatorToken}`, clusterid: 'Kubernetes' });
      await ask(request('istio.io/debug/syncz'), stream);
      expect(sut.streams.at(-1)).toMatchObject({
        metadata: { authorization: `Bearer ${operatorToken}`, clusterid: 'Kubernetes' },
        node: { id: istioctlNode().id },
        identity: { namespace: 'istio-system', serviceAccount: 'default' },
      });
    });

    it('hangs without answering or closing when asked to', async () => {
      sut.knobs.hang = true;
      const stream = open();
      stream.write(request('istio.io/debug/syncz'));
      await expect(nextResponse(stream, SILENCE_MS)).rejects.toThrow('timeout');
      expect(sut.openStreams).toBeGreaterThanOrEqual(1);
    });

    it('delays answers', async () => {
      sut.knobs.delayMs = SILENCE_MS;
      const started = Date.now();
      await ask(request('istio.io/debug/syncz'));
      expect(Date.now() - started).toBeGreaterThanOrEqual(SILENCE_MS - 10);
    });

    it('forgets a stream once the client cancels it', async () => {
      for (const stream of opened.splice(0)) stream.cancel();
      await until(() => sut.openStreams === 0);
      const stream = open();
      await ask(request('istio.io/debug/syncz'), stream);
      expect(sut.openStreams).toBe(1);
      stream.cancel();
      await until(() => sut.openStreams === 0);
    });

    it('resets the connection instead of answering when asked to', async () => {
      sut.knobs.resetMidAnswer = true;
      const stream = open();
      stream.write(request('istio.io/debug/syncz'));
      await expectStatus(stream, grpc.status.UNAVAILABLE);
    });

    it('puts control_plane on every type in pre-1.25 mode', async () => {
      sut.knobs.controlPlaneOnAllTypes = true;
      const response = await ask(request('istio.io/debug/config_dump', ['ratings']));
      expect(response.control_plane?.identifier).toContain('istiod-7d4b9c8f6-abcde');
    });
  });

  describe('error table', () => {
    it('UNAVAILABLE while not ready', async () => {
      sut.knobs.notReady = true;
      await expectStatus(open(), grpc.status.UNAVAILABLE, 'server is not ready to serve discovery information');
    });

    it('RESOURCE_EXHAUSTED when rate limited', async () => {
      sut.knobs.rateLimited = true;
      await expectStatus(open(), grpc.status.RESOURCE_EXHAUSTED, /^request rate limit exceeded: /);
    });

    it('UNAUTHENTICATED before reading any request for a missing, foreign or expired token', async () => {
      const stranger = await createTokenIssuer();
      const expired = await tokens.mint({ namespace: 'istio-system', serviceAccount: 'default', expiresInSeconds: -60 });
      const wrongAudience = await tokens.mint({ namespace: 'istio-system', serviceAccount: 'default', audiences: ['kubernetes'] });
      const rejected: Record<string, string>[] = [
        {},
        { authorization: operatorToken },
        { authorization: `Bearer ${await stranger.mint({ namespace: 'istio-system', serviceAccount: 'default' })}` },
        { authorization: `Bearer ${expired}` },
        { authorization: `Bearer ${wrongAudience}` },
      ];
      for (const metadata of rejected) {
        await expectStatus(open(metadata), grpc.status.UNAUTHENTICATED, 'authentication failure');
      }
    });

    it('UNAUTHENTICATED for an unknown clusterid', async () => {
      const stream = open({ authorization: `Bearer ${operatorToken}`, clusterid: 'remote-west' });
      await expectStatus(stream, grpc.status.UNAUTHENTICATED, 'authentication failure');
    });

    it('INVALID_ARGUMENT for a first request without node', async () => {
      const stream = open();
      stream.write(request('istio.io/debug/syncz', [], null));
      await expectStatus(stream, grpc.status.INVALID_ARGUMENT, 'missing node information');
    });

    it('INVALID_ARGUMENT for a node id that is not type~ip~id~domain', async () => {
      const stream = open();
      stream.write(request('istio.io/debug/syncz', [], { ...istioctlNode(), id: 'istioctl.istio-system' }));
      await expectStatus(stream, grpc.status.INVALID_ARGUMENT, /missing parts in the service node/);
    });

    it('PERMISSION_DENIED when the token identity differs from the node', async () => {
      const stream = open();
      stream.write(request('istio.io/debug/syncz', [], istioctlNode('bookinfo', 'default')));
      await expectStatus(
        stream,
        grpc.status.PERMISSION_DENIED,
        'authorization failed: no identities ([spiffe://cluster.local/ns/istio-system/sa/default]) matched bookinfo/default',
      );
    });

    it('INVALID_ARGUMENT for istio.io/debug without exactly one name', async () => {
      const stream = open();
      stream.write(request('istio.io/debug', ['syncz', 'adsz']));
      await expectStatus(stream, grpc.status.INVALID_ARGUMENT, 'exactly one debug request is required');
    });

    it('PERMISSION_DENIED for debug paths a caller outside istio-system may not read', async () => {
      const token = await tokens.mint({ namespace: 'bookinfo', serviceAccount: 'reader' });
      const node = istioctlNode('bookinfo', 'reader');
      const allowed = await ask(
        request('istio.io/debug', ['config_dump?proxyID=ratings-v1'], node),
        open({ authorization: `Bearer ${token}` }),
      );
      expect(allowed.resources).toHaveLength(1);
      const stream = open({ authorization: `Bearer ${token}` });
      stream.write(request('istio.io/debug', ['syncz'], node));
      await expectStatus(
        stream,
        grpc.status.PERMISSION_DENIED,
        'the debug info is not available for current identity: "spiffe://cluster.local/ns/bookinfo/sa/reader"',
      );
    });

    it('UNIMPLEMENTED for Delta', async () => {
      const stream = client.DeltaAggregatedResources(new grpc.Metadata());
      stream.on('error', () => undefined);
      opened.push(stream);
      await expectStatus(stream, grpc.status.UNIMPLEMENTED);
    });
  });
});

describe('mesh fixtures', () => {
  it('gives the third replica an older version and a pod of its own', () => {
    const mesh = buildDemoMesh();
    expect(mesh.map((istiod) => istiod.version)).toEqual(['1.27.3', '1.27.3', '1.26.1']);
    const pod = findPodOnThird(mesh);
    expect(mesh[2].proxies?.map((proxy) => proxy.id)).toContain(pod);
    expect(
      mesh
        .slice(0, 2)
        .flatMap((istiod) => istiod.proxies ?? [])
        .map((proxy) => proxy.id),
    ).not.toContain(pod);
  });

  it('generates ClientConfigs of about 2 KB', async () => {
    const [proxy] = generateProxies(1, { namespace: 'load', prefix: 'svc' });
    const { encodeClientConfig } = await import('./client-config.encoder.js');
    const size = encodeClientConfig(proxy, { now: new Date(), legacy: false }).length;
    expect(size).toBeGreaterThan(1_500);
    expect(size).toBeLessThan(2_600);
  });
});

describe('SimulatedIstiod in plaintext, without token verification', () => {
  it('answers unverified callers, unless identity is required', async () => {
    const sut = new SimulatedIstiod({ podName: 'istiod-plain-0', version: '1.26.1', proxies: generateProxies(3) });
    await sut.start();
    const Client = adsClientConstructor();
    const client = new Client(sut.address, grpc.credentials.createInsecure()) as unknown as AdsClient;
    try {
      const stream = client.StreamAggregatedResources(new grpc.Metadata());
      stream.on('error', () => undefined);
      stream.write(request('istio.io/debug/syncz'));
      expect((await nextResponse(stream)).resources).toHaveLength(3);
      expect(sut.streams[0].identity).toBeUndefined();

      sut.knobs.requireIdentity = true;
      stream.write(request('istio.io/debug', ['syncz']));
      await expectStatus(stream, grpc.status.UNAUTHENTICATED, 'authentication required');
    } finally {
      client.close();
      await sut.stop();
    }
  });
});

describe('SimulatedIstiod serving several clusters', () => {
  it('reviews a token against the cluster its clusterid names, its own cluster without one', async () => {
    const [primary, east, west] = await Promise.all([createTokenIssuer(), createTokenIssuer(), createTokenIssuer()]);
    const sut = new SimulatedIstiod({
      podName: 'istiod-multi-0',
      version: '1.27.3',
      proxies: generateProxies(1),
      clusterId: 'config',
      verifyToken: (token) => primary.verify(token),
      clusters: { east: (token) => east.verify(token), west: (token) => west.verify(token) },
    });
    await sut.start();
    const Client = adsClientConstructor();
    const client = new Client(sut.address, grpc.credentials.createInsecure()) as unknown as AdsClient;
    const sa = { namespace: 'istio-system', serviceAccount: 'default' };
    const tokenOf = { primary: await primary.mint(sa), east: await east.mint(sa), west: await west.mint(sa) };
    const attempt = async (issuer: keyof typeof tokenOf, clusterId?: string) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${tokenOf[issuer]}`);
      if (clusterId !== undefined) metadata.set('clusterid', clusterId);
      const stream = client.StreamAggregatedResources(metadata);
      stream.on('error', () => undefined);
      stream.write(request('istio.io/debug/syncz'));
      try {
        return (await nextResponse(stream)).type_url;
      } catch (error) {
        return `${grpc.status[(error as grpc.ServiceError).code]}: ${(error as grpc.ServiceError).details}`;
      } finally {
        stream.cancel();
      }
    };
    const refused = 'UNAUTHENTICATED: authentication failure';
    try {
      expect(await attempt('primary')).toBe('istio.io/debug/syncz');
      expect(await attempt('primary', 'config')).toBe('istio.io/debug/syncz');
      expect(await attempt('west')).toBe(refused); // what istioctl alone gets from a remote cluster
      expect(await attempt('west', 'west')).toBe('istio.io/debug/syncz');
      expect(await attempt('east', 'east')).toBe('istio.io/debug/syncz');
      expect(await attempt('east', 'west')).toBe(refused);
      expect(await attempt('primary', 'west')).toBe(refused);
      expect(await attempt('west', 'north')).toBe(refused);
      expect(sut.streams.filter((stream) => stream.identity).map((stream) => stream.metadata.clusterid)).toEqual([
        undefined,
        'config',
        'west',
        'east',
      ]);
    } finally {
      client.close();
      await sut.stop();
    }
  });
});

describe('createTokenIssuer', () => {
  it('mints projected-token-like JWTs that verify to the service account', async () => {
    const sut = await createTokenIssuer();
    const token = await sut.mint({ namespace: 'istio-system', serviceAccount: 'default' });
    const [, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;

    expect(claims).toMatchObject({
      iss: 'https://kubernetes.default.svc.cluster.local',
      aud: ['istio-ca'],
      sub: 'system:serviceaccount:istio-system:default',
      'kubernetes.io': { namespace: 'istio-system', serviceaccount: { name: 'default' } },
    });
    expect(sut.jwks.keys[0].kid).toBeTruthy();
    await expect(sut.verify(token)).resolves.toEqual({
      namespace: 'istio-system',
      serviceAccount: 'default',
      subject: 'system:serviceaccount:istio-system:default',
    });
    await expect(sut.verify(await sut.mint({ namespace: 'a', serviceAccount: 'b', notBeforeSeconds: 600 }))).rejects.toThrow();
  });
});
