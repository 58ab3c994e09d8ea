import type { ProtoAny } from '../../src/common/xds-types.js';
import { embeddedResourceName, type DecodedConfig } from './xds-decoders.js';

export interface ConfigSection {
  label: string;
  names: string[];
}

interface AnyHolder {
  [field: string]: unknown;
}

/** Admin dump type → its section label and the (list field, resource field, name field) paths holding entries. */
const SECTIONS: Record<string, { label: string; lists: [string, string, string?][] }> = {
  'envoy.admin.v3.ClustersConfigDump': {
    label: 'Clusters',
    lists: [
      ['static_clusters', 'cluster'],
      ['dynamic_active_clusters', 'cluster'],
      ['dynamic_warming_clusters', 'cluster'],
    ],
  },
  'envoy.admin.v3.ListenersConfigDump': {
    label: 'Listeners',
    lists: [
      ['static_listeners', 'listener'],
      ['dynamic_listeners', 'active_state.listener', 'name'],
    ],
  },
  'envoy.admin.v3.RoutesConfigDump': {
    label: 'Routes',
    lists: [
      ['static_route_configs', 'route_config'],
      ['dynamic_route_configs', 'route_config'],
    ],
  },
  'envoy.admin.v3.SecretsConfigDump': {
    label: 'Secrets',
    lists: [
      ['static_secrets', 'secret', 'name'],
      ['dynamic_active_secrets', 'secret', 'name'],
      ['dynamic_warming_secrets', 'secret', 'name'],
    ],
  },
  'envoy.admin.v3.EcdsConfigDump': { label: 'Extension configs', lists: [['ecds_filters', 'ecds_filter']] },
};

/** The sections always shown, even when istiod sent none of them. */
const ALWAYS_SHOWN = ['Clusters', 'Listeners', 'Routes', 'Secrets'];

/**
 * Entry names per config type of an istiod config dump. Names come from the wrapper when istiod sets
 * one (listeners), else from field 1 of the embedded resource, so no resource schema is needed.
 */
export function summarizeConfigDump(configs: readonly DecodedConfig[]): ConfigSection[] {
  const sections = new Map<string, string[]>(ALWAYS_SHOWN.map((label) => [label, []]));
  for (const config of configs) {
    const spec = SECTIONS[config.typeName];
    if (!spec || !config.message) continue;
    const names = sections.get(spec.label) ?? [];
    for (const [listField, resourcePath, nameField] of spec.lists) {
      for (const entry of asList(config.message[listField])) {
        const wrapperName = nameField ? entry[nameField] : undefined;
        const name =
          typeof wrapperName === 'string' && wrapperName !== ''
            ? wrapperName
            : embeddedResourceName(pathValue(entry, resourcePath) as ProtoAny | undefined);
        names.push(name);
      }
    }
    sections.set(spec.label, names);
  }
  return [...sections]
    .filter(([label, names]) => names.length > 0 || ALWAYS_SHOWN.includes(label))
    .map(([label, names]) => ({ label, names }));
}

function asList(value: unknown): AnyHolder[] {
  return Array.isArray(value) ? (value.filter((item) => typeof item === 'object' && item !== null) as AnyHolder[]) : [];
}

function pathValue(holder: AnyHolder, path: string): unknown {
  let current: unknown = holder;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as AnyHolder)[key];
  }
  return current ?? undefined;
}
