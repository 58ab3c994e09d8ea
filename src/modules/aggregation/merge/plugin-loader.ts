import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../../../config/config.error.js';
import { MergePlugin, isMergePlugin } from './merge-plugin.js';

/**
 * Loads MERGE_PLUGINS entries: a path (relative to the working directory) or an npm package name.
 * A module may export a plugin object, a class with a no-argument constructor, or an array of
 * either (as default export or named exports); each declares its own `typeUrl` (see merge-plugin.ts).
 * Anything else fails startup naming the plugin.
 */
export async function loadMergePlugins(specifiers: string[], cwd = process.cwd()): Promise<MergePlugin[]> {
  const loaded: MergePlugin[] = [];
  for (const specifier of specifiers) loaded.push(...(await loadPlugin(specifier, cwd)));
  return loaded;
}

async function loadPlugin(specifier: string, cwd: string): Promise<MergePlugin[]> {
  const isPath = specifier.startsWith('.') || isAbsolute(specifier);
  const target = isPath ? pathToFileURL(resolve(cwd, specifier)).href : specifier;
  let module: Record<string, unknown>;
  try {
    module = (await import(target)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError('MERGE_PLUGINS', `plugin "${specifier}" could not be loaded: ${(err as Error).message}`);
  }
  const exported = module.default !== undefined ? [module.default] : Object.values(module);
  const strategies = exported.flatMap(asList).map(instantiate);
  const valid = strategies.filter(isMergePlugin);
  if (valid.length === 0 || valid.length !== strategies.length) {
    throw new ConfigError(
      'MERGE_PLUGINS',
      `plugin "${specifier}" must export merge strategies ({ name, typeUrl, merge(request, answers) } or a class of them)`,
    );
  }
  return valid.map((strategy) => Object.assign(strategy, { name: strategy.name || specifier }));
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [value];
}

function instantiate(value: unknown): unknown {
  if (typeof value !== 'function') return value;
  try {
    return new (value as new () => unknown)();
  } catch {
    return value;
  }
}
