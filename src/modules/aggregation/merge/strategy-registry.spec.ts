import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplicationContext, Logger, Module } from '@nestjs/common';
import { DiscoveryModule, NestFactory } from '@nestjs/core';
import { afterEach, describe, expect, it } from 'vitest';
import { staticTestConfig } from '../../../../test/kit/test-config.js';
import { APP_CONFIG } from '../../../config/app-config.js';
import { BUILT_IN_STRATEGIES } from './built-in-strategies.js';
import { MergeStrategy } from './merge-strategy.js';
import { StrategyRegistry } from './strategy-registry.js';

Logger.overrideLogger(false);

async function start(env: Record<string, string> = {}): Promise<INestApplicationContext> {
  const config = staticTestConfig(env);
  @Module({ imports: [DiscoveryModule], providers: [{ provide: APP_CONFIG, useValue: config }, StrategyRegistry, ...BUILT_IN_STRATEGIES] })
  class RegistryTestModule {}
  return NestFactory.createApplicationContext(RegistryTestModule, { logger: false });
}

function pluginFile(source: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'plugin-')), 'plugin.mjs');
  writeFileSync(file, source);
  return file;
}

describe('StrategyRegistry', () => {
  let app: INestApplicationContext | undefined;
  afterEach(async () => app?.close());

  it('binds each built-in to the type URL in its @MergeStrategy decorator, concatenate for the rest', async () => {
    app = await start();
    const sut = app.get(StrategyRegistry);
    expect(sut.resolve('istio.io/debug/syncz').name).toBe('syncz');
    expect(sut.resolve('istio.io/debug/config_dump').name).toBe('config_dump');
    expect(sut.resolve('istio.io/debug').name).toBe('internal-debug');
    expect(sut.resolve('istio.io/connections').name).toBe('connections');
    expect(sut.resolve('example.com/unknown').name).toBe('concatenate');
  });

  it('consults plugins before built-ins, so a plugin can replace one', async () => {
    const plugin = pluginFile("export default { name: 'my-syncz', typeUrl: 'istio.io/debug/syncz', merge: () => ({}) };\n");
    app = await start({ MERGE_PLUGINS: plugin });
    expect(app.get(StrategyRegistry).resolve('istio.io/debug/syncz').name).toBe('my-syncz');
  });

  it('prefers an exact type URL over an earlier pattern', async () => {
    app = await start();
    const sut = app.get(StrategyRegistry);
    const named = (name: string): MergeStrategy => ({ name, merge: () => ({}) as never });
    sut.register([{ typeUrl: /^istio\.io\/debug\//, strategy: named('pattern') }]);
    expect(sut.resolve('istio.io/debug/syncz').name).toBe('syncz');
    expect(sut.resolve('istio.io/debug/other').name).toBe('pattern');
  });
});
