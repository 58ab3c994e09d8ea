import { randomUUID } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';

export type KubeResource = 'pods' | 'configmaps' | 'secrets';
export type KubeEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface KubeEvent {
  resourceVersion: number;
  resource: KubeResource;
  type: KubeEventType;
  object: KubernetesObject;
  /** The state before a MODIFIED, so selector watches can tell "stopped matching" from "changed". */
  previous?: KubernetesObject;
}

export const KINDS: Record<KubeResource, { kind: string; listKind: string }> = {
  pods: { kind: 'Pod', listKind: 'PodList' },
  configmaps: { kind: 'ConfigMap', listKind: 'ConfigMapList' },
  secrets: { kind: 'Secret', listKind: 'SecretList' },
};

/**
 * Objects plus the ordered change log an API server keeps, so a watch can resume from any
 * resourceVersion that has not been compacted away. One counter for all resources, as in etcd.
 */
export class KubeObjectStore {
  private revision = 0;
  private readonly objects = new Map<string, KubernetesObject>();
  private history: KubeEvent[] = [];
  private readonly listeners = new Set<(event: KubeEvent) => void>();

  get resourceVersion(): number {
    return this.revision;
  }

  /** Stores the object in its wire form (dates become strings), stamping server-owned metadata. */
  upsert(resource: KubeResource, object: KubernetesObject): KubernetesObject {
    const namespace = object.metadata?.namespace ?? 'default';
    const name = object.metadata?.name;
    if (!name) throw new Error(`Cannot store a ${KINDS[resource].kind} without metadata.name`);
    const key = keyOf(resource, namespace, name);
    const previous = this.objects.get(key);
    const stored = JSON.parse(
      JSON.stringify({
        ...object,
        apiVersion: 'v1',
        kind: KINDS[resource].kind,
        metadata: {
          ...object.metadata,
          name,
          namespace,
          uid: previous?.metadata?.uid ?? randomUUID(),
          creationTimestamp: previous?.metadata?.creationTimestamp ?? new Date(),
          resourceVersion: String(++this.revision),
        },
      }),
    ) as KubernetesObject;
    this.objects.set(key, stored);
    this.record({ resourceVersion: this.revision, resource, type: previous ? 'MODIFIED' : 'ADDED', object: stored, previous });
    return stored;
  }

  /** A DELETED event carries the object's last state under the deletion's resourceVersion. */
  delete(resource: KubeResource, namespace: string, name: string): boolean {
    const key = keyOf(resource, namespace, name);
    const previous = this.objects.get(key);
    if (!previous) return false;
    this.objects.delete(key);
    const object = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(++this.revision) } };
    this.record({ resourceVersion: this.revision, resource, type: 'DELETED', object });
    return true;
  }

  get(resource: KubeResource, namespace: string, name: string): KubernetesObject | undefined {
    return this.objects.get(keyOf(resource, namespace, name));
  }

  list(resource: KubeResource, matches: (object: KubernetesObject) => boolean): KubernetesObject[] {
    const prefix = `${resource}/`;
    return [...this.objects.entries()].filter(([key, object]) => key.startsWith(prefix) && matches(object)).map(([, object]) => object);
  }

  /** Events after `resourceVersion`, oldest first: what a resumed watch replays. */
  eventsAfter(resourceVersion: number): KubeEvent[] {
    return this.history.filter((event) => event.resourceVersion > resourceVersion);
  }

  /** Drops history older than `resourceVersion`, like etcd compaction. */
  compact(resourceVersion: number): void {
    this.history = this.history.filter((event) => event.resourceVersion >= resourceVersion);
  }

  subscribe(listener: (event: KubeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private record(event: KubeEvent): void {
    this.history.push(event);
    for (const listener of this.listeners) listener(event);
  }
}

function keyOf(resource: KubeResource, namespace: string, name: string): string {
  return `${resource}/${namespace}/${name}`;
}
