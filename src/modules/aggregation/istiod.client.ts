import { Client, ClientDuplexStream, Metadata, connectivityState } from '@grpc/grpc-js';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Observable, Subscription } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { AdsClientConstructor, upstreamAdsClientConstructor } from '../../common/proto.js';
import { DiscoveryRequest, DiscoveryResponse } from '../../common/xds-types.js';
import { DiscoveryService } from '../discovery/discovery.service.js';
import { IstiodInstance, instanceTarget } from '../discovery/istiod-instance.js';
import { UpstreamCredentials } from './upstream-credentials.js';

type AdsClient = Client & {
  StreamAggregatedResources(metadata: Metadata, options: { deadline: Date }): ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
};

interface PooledChannel {
  instance: IstiodInstance;
  client: AdsClient;
  inFlight: number;
  retired: boolean;
}

const UPSTREAM_FLOW_CONTROL_WINDOW = 16 * 1024 * 1024;

/** istiod ends a stream when the client half-closes; past this grace the proxy cancels it. */
const UPSTREAM_CLOSE_GRACE_MS = 2_000;

/**
 * Ends an answered upstream stream with a half-close rather than a cancel: istiod then closes it
 * with OK. A RST_STREAM per request looks like a "rapid reset" to HTTP/2 servers that guard against
 * it (Node's does, and so may a proxy in front of istiod), which then drop the whole connection.
 */
function endGracefully(call: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>): void {
  call.on('error', () => undefined); // a late status (e.g. CANCELLED below) is no longer anyone's concern
  call.end();
  const timer = setTimeout(() => call.cancel(), UPSTREAM_CLOSE_GRACE_MS);
  timer.unref();
  call.on('status', () => clearTimeout(timer));
}

/** Calls one istiod: emits its first response of the request's type, then completes (or errors). */
export abstract class UpstreamCaller {
  abstract ask(instance: IstiodInstance, request: DiscoveryRequest, metadata: Metadata, deadline: Date): Observable<DiscoveryResponse>;
}

/**
 * The only place that dials istiod. One long-lived channel per instance, created when discovery
 * reports it and closed when it disappears (after its in-flight calls end); every request opens a
 * fresh stream on that channel and cancels it after the first matching answer, because istiod never
 * closes a debug stream on its own.
 */
@Injectable()
export class IstiodClientPool extends UpstreamCaller implements OnModuleDestroy {
  private readonly logger = new Logger(IstiodClientPool.name);
  private readonly channels = new Map<string, PooledChannel>();
  private readonly ctor: AdsClientConstructor = upstreamAdsClientConstructor();
  private readonly subscription: Subscription;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly credentials: UpstreamCredentials,
    discovery: DiscoveryService,
  ) {
    super();
    this.subscription = discovery.instances$.subscribe((instances) => this.reconcile(instances));
    // A rotated istiod root: re-dial every instance with the new trust; in-flight calls finish first.
    this.subscription.add(credentials.changed$.subscribe(() => this.redialAll(discovery.snapshot())));
  }

  ask(instance: IstiodInstance, request: DiscoveryRequest, metadata: Metadata, deadline: Date): Observable<DiscoveryResponse> {
    return new Observable<DiscoveryResponse>((subscriber) => {
      const channel = this.channelFor(instance);
      channel.inFlight++;
      let settled = false;
      const call = channel.client.StreamAggregatedResources(metadata, { deadline });
      const finish = () => {
        if (settled) return;
        settled = true;
        channel.inFlight--;
        if (channel.retired && channel.inFlight === 0) channel.client.close();
      };
      call.on('data', (response: DiscoveryResponse) => {
        if (settled || response.type_url !== request.type_url) return;
        finish();
        subscriber.next(response);
        subscriber.complete();
        endGracefully(call);
      });
      call.on('error', (err) => {
        if (settled) return;
        finish();
        subscriber.error(err);
      });
      call.on('end', () => {
        if (settled) return;
        finish();
        subscriber.error({ code: 14, details: 'istiod closed the stream without answering' });
      });
      call.write(request);
      return () => {
        if (!settled) {
          finish();
          call.cancel();
        }
      };
    });
  }

  /** gRPC connectivity state of the instance's channel (IDLE, CONNECTING, READY, TRANSIENT_FAILURE, SHUTDOWN). */
  channelState(name: string): string {
    const channel = this.channels.get(name);
    if (!channel) return 'NONE';
    return connectivityState[channel.client.getChannel().getConnectivityState(false)] ?? 'UNKNOWN';
  }

  /** Reachability probe: connects the channel (TCP + TLS) without sending a request or a token. */
  probe(instance: IstiodInstance, timeoutMs: number): Promise<boolean> {
    const channel = this.channelFor(instance);
    return new Promise((resolve) => channel.client.waitForReady(new Date(Date.now() + timeoutMs), (err) => resolve(!err)));
  }

  /** Channels currently held, for diagnostics and leak tests. */
  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
    for (const channel of this.channels.values()) channel.client.close();
    this.channels.clear();
  }

  private channelFor(instance: IstiodInstance): PooledChannel {
    const existing = this.channels.get(instance.name);
    if (existing && instanceTarget(existing.instance) === instanceTarget(instance)) return existing;
    // A request raced a discovery update: dial now; reconcile() adopts or retires it.
    return this.open(instance);
  }

  private reconcile(instances: IstiodInstance[]): void {
    const wanted = new Map(instances.map((instance) => [instance.name, instance]));
    for (const [name, channel] of this.channels) {
      const next = wanted.get(name);
      if (!next || instanceTarget(next) !== instanceTarget(channel.instance)) this.retire(name, channel);
    }
    for (const instance of instances) if (!this.channels.has(instance.name)) this.open(instance);
  }

  private redialAll(instances: IstiodInstance[]): void {
    for (const [name, channel] of this.channels) this.retire(name, channel);
    this.reconcile(instances);
  }

  private open(instance: IstiodInstance): PooledChannel {
    const previous = this.channels.get(instance.name);
    if (previous) this.retire(instance.name, previous);
    const serverName = this.credentials.serverName;
    const client = new this.ctor(instanceTarget(instance), this.credentials.current(), {
      'grpc.ssl_target_name_override': serverName,
      'grpc.default_authority': serverName,
      'grpc.max_receive_message_length': this.config.maxMessageBytes,
      'grpc.max_send_message_length': this.config.maxMessageBytes,
      // A large HTTP/2 receive window lets istiod stream multi-MB answers without waiting for a
      // WINDOW_UPDATE every 64 KiB (grpc-go peers grow theirs by BDP estimation; grpc-js does not).
      'grpc-node.flow_control_window': UPSTREAM_FLOW_CONTROL_WINDOW,
      // istiod answers pings more frequent than every 15 s with GOAWAY too_many_pings.
      'grpc.keepalive_time_ms': this.config.upstreamKeepaliveMs,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
    }) as unknown as AdsClient;
    const channel: PooledChannel = { instance, client, inFlight: 0, retired: false };
    this.channels.set(instance.name, channel);
    this.logger.log(`channel opened to istiod ${instance.name} at ${instanceTarget(instance)}`);
    return channel;
  }

  private retire(name: string, channel: PooledChannel): void {
    channel.retired = true;
    if (this.channels.get(name) === channel) this.channels.delete(name);
    if (channel.inFlight === 0) channel.client.close();
    this.logger.log(`channel to istiod ${name} closing (${channel.inFlight} calls in flight)`);
  }
}
