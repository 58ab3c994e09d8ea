import { KubeConfig, KubernetesListObject, KubernetesObject, ListWatch, Watch } from '@kubernetes/client-node';
import { Logger } from '@nestjs/common';
import { Backoff, BackoffOptions } from './backoff.js';
import { describeKubeError } from './kube-error.js';

export interface ResilientWatchOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** API path of the collection, e.g. /api/v1/namespaces/istio-system/pods. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Called (debounced) after the first successful list and after every change. */
  onChange: (objects: T[]) => void;
  backoff?: BackoffOptions;
  /** What is watched, for logs. */
  description: string;
  onRestart?: () => void;
}

/**
 * client-node's ListWatch relists on 410 Gone by itself but *stops* on any other error (a 500, a
 * refused or dropped connection). This wrapper restarts it with jittered exponential backoff,
 * keeping the last known objects meanwhile, so the proxy keeps serving while the API is away.
 */
export class ResilientWatch<T extends KubernetesObject> {
  private readonly logger = new Logger('KubernetesWatch');
  private readonly backoff: Backoff;
  private informer?: ListWatch<T>;
  private restartTimer?: NodeJS.Timeout;
  private emitScheduled?: NodeJS.Immediate;
  private listed = false;
  private stopped = true;

  constructor(private readonly options: ResilientWatchOptions<T>) {
    this.backoff = new Backoff(options.backoff);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const { kubeConfig, path, labelSelector, fieldSelector } = this.options;
    const list = async () => {
      const result = await this.options.list();
      this.listed = true;
      this.backoff.reset();
      this.scheduleEmit();
      return result;
    };
    this.informer = new ListWatch<T>(path, new Watch(kubeConfig), list, false, labelSelector, fieldSelector);
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.informer.on(verb, () => {
        this.backoff.reset();
        this.scheduleEmit();
      });
    }
    this.informer.on('error', (err: unknown) => this.onError(err));
    this.run();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    if (this.emitScheduled) clearImmediate(this.emitScheduled);
    void this.informer?.stop();
  }

  private run(): void {
    this.informer?.start().catch((err: unknown) => this.onError(err));
  }

  private onError(err: unknown): void {
    if (this.stopped || this.restartTimer) return;
    const delay = this.backoff.next();
    this.logger.warn(
      `${this.options.description}: watch failed (${describeKubeError(err)}); retrying in ${delay} ms, serving the last known state`,
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.options.onRestart?.();
      this.run();
    }, delay);
    this.restartTimer.unref();
  }

  private scheduleEmit(): void {
    if (this.emitScheduled || !this.listed) return;
    // Debounced: a relist delivers one event per object; consumers want one snapshot.
    this.emitScheduled = setImmediate(() => {
      this.emitScheduled = undefined;
      if (!this.stopped && this.informer) this.options.onChange([...this.informer.list()]);
    });
  }
}
