import 'reflect-metadata';
import {
  Metadata,
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  credentials,
  type ClientDuplexStream,
  type ServerInterceptor,
  type StatusObject,
} from '@grpc/grpc-js';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GrpcStreamMethod, Transport, type GrpcOptions, type MicroserviceOptions } from '@nestjs/microservices';
import { HealthImplementation } from 'grpc-health-check';
import { Observable, concatMap, from, take } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ADS_SERVICE, adsClientConstructor, adsPackageDefinition } from '../common/proto.js';
import { encodeDiscoveryResponse } from '../common/discovery-response.codec.js';
import type { DiscoveryRequest, DiscoveryResponse } from '../common/xds-types.js';
import { freePort } from '../../test/kit/free-port.js';
import { grpcHealthCheck } from '../../test/kit/grpc-health-client.js';
import { withResponseSerializer } from './grpc-js.adapter.js';
import { NestGrpcTransport, endWithTrailers, onNestGrpcServer, trackWrites, type NestStreamCall } from './nest-grpc.adapter.js';

/*
 * Facts about @nestjs/microservices' gRPC transport that the proxy relies on, checked against a real
 * Nest microservice on loopback. A failure here after an upgrade means Nest changed how it drives
 * grpc-js calls; see nest-grpc.adapter.ts (and its callers) before touching the test.
 */

type Call = NestStreamCall<DiscoveryResponse>;
type Scenario = (requests$: Observable<DiscoveryRequest>, call: Call) => Observable<DiscoveryResponse>;
type AdsClientCall = ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;

let scenario: Scenario;

@Controller()
class ScriptedAdsController {
  @GrpcStreamMethod('AggregatedDiscoveryService', 'StreamAggregatedResources')
  stream(requests$: Observable<DiscoveryRequest>, _metadata: Metadata, call: Call): Observable<DiscoveryResponse> {
    return scenario(requests$, call);
  }
}

@Module({ controllers: [ScriptedAdsController] })
class ScriptedAdsModule {}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startNest(options: Partial<GrpcOptions['options']> = {}): Promise<number> {
  const port = await freePort();
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(ScriptedAdsModule, {
    transport: Transport.GRPC,
    options: { url: `127.0.0.1:${port}`, package: 'envoy.service.discovery.v3', packageDefinition: adsPackageDefinition(), ...options },
    logger: false,
  });
  await app.listen();
  cleanups.push(() => app.close());
  return port;
}

function open(port: number): AdsClientCall {
  const client = new (adsClientConstructor())(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  }) as unknown as { StreamAggregatedResources(): AdsClientCall; close(): void };
  cleanups.push(() => client.close());
  const call = client.StreamAggregatedResources();
  call.on('error', () => undefined);
  call.write({ version_info: 'v1', node: null, resource_names: [], type_url: 'test', response_nonce: '' });
  return call;
}

function statusOf(call: AdsClientCall): Promise<StatusObject> {
  return new Promise((resolve) => call.on('status', resolve));
}

function response(nonce: string, payload = Buffer.alloc(0)): DiscoveryResponse {
  return { version_info: 'v1', resources: [{ type_url: 'test', value: payload }], type_url: 'test', nonce, control_plane: null };
}

/** Replaces `call[method]` with a wrapper that logs how many arguments Nest passed, then delegates. */
function countArguments(call: Call, method: 'end' | 'write', log: number[]): void {
  const original = call[method].bind(call) as (...args: unknown[]) => unknown;
  Object.assign(call, { [method]: (...args: unknown[]) => (log.push(args.length), original(...args)) });
}

const answerOnce =
  (...responses: DiscoveryResponse[]) =>
  (requests$: Observable<DiscoveryRequest>) =>
    requests$.pipe(
      take(1),
      concatMap(() => from(responses)),
    );

/** trackWrites with counters: how many writes Nest started and how many were flushed (or settled by close). */
function countWrites(call: Parameters<typeof trackWrites>[0], counts: { started: number; flushed: number }): void {
  trackWrites(
    call,
    () => counts.started++,
    () => counts.flushed++,
  );
}

describe('@nestjs/microservices gRPC transport (relied on by adapters/nest-grpc.adapter.ts)', () => {
  it('@nestjs/microservices: a completed response Observable ends the call with a bare call.end(), so endWithTrailers trailers reach the client', async () => {
    const endArguments: number[] = [];
    scenario = (requests$, call) => {
      const trailers = new Metadata();
      trailers.set('x-pinned-trailer', 'kept');
      endWithTrailers(call, trailers);
      countArguments(call, 'end', endArguments);
      return answerOnce(response('n1'))(requests$);
    };
    const call = open(await startNest());
    call.on('data', () => undefined);

    const { code, metadata } = await statusOf(call);

    expect(code).toBe(0);
    expect(endArguments[0]).toBe(0);
    expect(metadata.get('x-pinned-trailer')).toEqual(['kept']);
  });

  it('@nestjs/microservices: each response is written with a bare call.write(value), so trackWrites can add the flush callback', async () => {
    const writeArguments: number[] = [];
    const counts = { started: 0, flushed: 0 };
    scenario = (requests$, call) => {
      countWrites(call, counts);
      countArguments(call, 'write', writeArguments);
      return answerOnce(response('n1'), response('n2'))(requests$);
    };
    const call = open(await startNest());
    const received: string[] = [];
    call.on('data', (answer: DiscoveryResponse) => received.push(answer.nonce));

    await statusOf(call);

    expect(writeArguments).toEqual([1, 1]);
    expect(received).toEqual(['n1', 'n2']);
    expect(counts).toEqual({ started: 2, flushed: 2 });
  });

  it('@nestjs/microservices: a call cancelled mid-answer still closes, so trackWrites settles every write Nest started', async () => {
    const counts = { started: 0, flushed: 0 };
    scenario = (requests$, call) => {
      countWrites(call, counts);
      const big = Array.from({ length: 64 }, (_, i) => response(`n${i}`, Buffer.alloc(64 * 1024)));
      return answerOnce(...big)(requests$);
    };
    const call = open(await startNest());
    call.on('data', () => undefined);
    call.pause();
    await vi.waitFor(() => expect(counts.started).toBeGreaterThan(counts.flushed));

    call.cancel();

    await vi.waitFor(() => expect(counts.flushed).toBe(counts.started));
  });

  it("@nestjs/microservices: onLoadPackageDefinition is handed Nest's grpc-js Server, so services registered there share its port", async () => {
    const health = new HealthImplementation({ '': 'SERVING' });
    const port = await startNest({ onLoadPackageDefinition: onNestGrpcServer((server) => health.addToServer(server)) });

    expect(await grpcHealthCheck(`127.0.0.1:${port}`, '')).toBe('SERVING');
  });

  it('@nestjs/microservices: the packageDefinition option is served as given, so a withResponseSerializer codec encodes the answers', async () => {
    const encoded: string[] = [];
    const packageDefinition = withResponseSerializer(
      adsPackageDefinition(),
      ADS_SERVICE,
      'StreamAggregatedResources',
      (value: DiscoveryResponse) => {
        encoded.push(value.nonce);
        return encodeDiscoveryResponse({ ...value, version_info: 'encoded-by-ours' });
      },
    );
    scenario = answerOnce(response('n1'));
    const call = open(await startNest({ packageDefinition }));
    const answer = new Promise<DiscoveryResponse>((resolve) => call.once('data', resolve));

    expect((await answer).version_info).toBe('encoded-by-ours');
    expect(encoded).toEqual(['n1']);
  });
});

describe('@nestjs/microservices ServerGrpc.createClient (relied on by NestGrpcTransport)', () => {
  it('@nestjs/microservices: listen() serves the handlers on the grpc-js Server createClient returns, and close() shuts that Server down', async () => {
    // An interceptor only a Server built by us has: it marks every response's headers.
    const marker: ServerInterceptor = (_method, call) =>
      new ServerInterceptingCall(call, {
        sendMetadata: (metadata, next) => {
          metadata.set('x-served-by', 'our-server');
          next(metadata);
        },
      });
    let built: Server | undefined;
    const port = await freePort();
    const transport = new NestGrpcTransport(
      { url: `127.0.0.1:${port}`, package: 'envoy.service.discovery.v3', packageDefinition: adsPackageDefinition() },
      () => (built = new Server({ interceptors: [marker] })),
      ServerCredentials.createInsecure(),
    );
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(ScriptedAdsModule, { strategy: transport, logger: false });
    await app.listen();
    cleanups.push(() => app.close());
    scenario = answerOnce(response('n1'));

    const call = open(port);
    const headers = new Promise<Metadata>((resolve) => call.once('metadata', resolve));
    const answer = new Promise<DiscoveryResponse>((resolve) => call.once('data', resolve));

    expect((await answer).nonce).toBe('n1');
    expect((await headers).get('x-served-by')).toEqual(['our-server']);
    expect(transport.grpcServer).toBe(built);

    const shutDown = vi.spyOn(built!, 'forceShutdown');
    await app.close();
    expect(shutDown).toHaveBeenCalled();
  });
});
