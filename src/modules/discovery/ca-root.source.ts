import { CoreV1Api, KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { Logger } from '@nestjs/common';
import { BehaviorSubject } from 'rxjs';
import { ConfigError } from '../../config/config.error.js';
import { BackoffOptions } from '../kubernetes/backoff.js';
import { describeKubeError } from '../kubernetes/kube-error.js';
import { ResilientWatch } from '../kubernetes/resilient-watch.js';
import { TrustRoots } from './trust-roots.js';

export const CA_CONFIGMAP_NAME = 'istio-ca-root-cert';
export const CA_CONFIGMAP_KEY = 'root-cert.pem';

/**
 * The `istio-ca-root-cert` ConfigMap istiod publishes in its namespace, watched so a root rotation
 * applies to new channels without a restart.
 */
export class ConfigMapTrustRoots extends TrustRoots {
  private readonly logger = new Logger('TrustRoots');
  private readonly subject = new BehaviorSubject<Buffer | undefined>(undefined);
  readonly roots$ = this.subject.asObservable();
  private watch?: ResilientWatch<V1ConfigMap>;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly backoff?: BackoffOptions,
  ) {
    super();
  }

  /** Reads the ConfigMap once (startup fails without it), then watches it. */
  async start(): Promise<void> {
    const api = this.kubeConfig.makeApiClient(CoreV1Api);
    let initial: V1ConfigMap;
    try {
      initial = await api.readNamespacedConfigMap({ name: CA_CONFIGMAP_NAME, namespace: this.namespace });
    } catch (err) {
      throw new ConfigError(
        'UPSTREAM_CA_FILE',
        `is not set and ConfigMap ${this.namespace}/${CA_CONFIGMAP_NAME} could not be read (${describe(err)}): ` +
          `set UPSTREAM_CA_FILE to the root certificate that signs istiod's serving certificate, ` +
          `or UPSTREAM_INSECURE=true to skip verification (not for production)`,
      );
    }
    const pem = initial.data?.[CA_CONFIGMAP_KEY];
    if (!pem) {
      throw new ConfigError(
        'UPSTREAM_CA_FILE',
        `is not set and ConfigMap ${this.namespace}/${CA_CONFIGMAP_NAME} has no ${CA_CONFIGMAP_KEY}: set UPSTREAM_CA_FILE, or UPSTREAM_INSECURE=true`,
      );
    }
    this.subject.next(Buffer.from(pem));
    const fieldSelector = `metadata.name=${CA_CONFIGMAP_NAME}`;
    this.watch = new ResilientWatch<V1ConfigMap>({
      kubeConfig: this.kubeConfig,
      path: `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/configmaps`,
      list: () => api.listNamespacedConfigMap({ namespace: this.namespace, fieldSelector }),
      fieldSelector,
      description: `ConfigMap ${this.namespace}/${CA_CONFIGMAP_NAME}`,
      backoff: this.backoff,
      onChange: (maps) => this.update(maps),
    });
    this.watch.start();
  }

  stop(): void {
    this.watch?.stop();
  }

  onModuleDestroy(): void {
    this.stop();
  }

  current(): Buffer | undefined {
    return this.subject.value;
  }

  describe(): string {
    return `ConfigMap ${this.namespace}/${CA_CONFIGMAP_NAME}`;
  }

  private update(maps: V1ConfigMap[]): void {
    const pem = maps.find((map) => map.metadata?.name === CA_CONFIGMAP_NAME)?.data?.[CA_CONFIGMAP_KEY];
    // A deleted ConfigMap keeps the last root: better a possibly stale root than no verification.
    if (!pem || this.subject.value?.toString() === pem) return;
    this.logger.log(`istiod root certificate rotated (${this.describe()}); new channels use it`);
    this.subject.next(Buffer.from(pem));
  }
}

function describe(err: unknown): string {
  const e = err as { code?: number; statusCode?: number; message?: string };
  const code = e?.code ?? e?.statusCode;
  if (code === 404) return 'not found';
  if (code === 403) return 'forbidden: the proxy ServiceAccount needs get on configmaps/istio-ca-root-cert';
  return describeKubeError(err);
}
