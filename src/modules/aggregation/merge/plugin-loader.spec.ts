import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { answer, request, response, debugAny } from '../../../../test/kit/xds-fixtures.js';
import { loadMergePlugins } from './plugin-loader.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

describe('loadMergePlugins', () => {
  it('loads the example plugin from disk and it merges real answers', async () => {
    const [sut] = await loadMergePlugins(['./examples/count-proxies.plugin.js'], repoRoot);
    expect(sut.name).toBe('example-proxy-count');
    expect(sut.typeUrl).toBeInstanceOf(RegExp);
    const typeUrl = 'example.com/debug/proxy-count';
    const merged = await sut.merge(
      request(typeUrl),
      [answer('istiod-a', response(typeUrl, [debugAny('1'), debugAny('2')])), answer('istiod-b', response(typeUrl, [debugAny('3')]))],
      { log: () => undefined },
    );
    expect(JSON.parse(Buffer.from(merged.resources[0].value).toString())).toEqual({
      total: 3,
      perInstance: { 'istiod-a': 2, 'istiod-b': 1 },
    });
  });

  it('accepts plain objects and arrays of strategies as named exports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plugin-'));
    writeFileSync(
      join(dir, 'two.mjs'),
      "export const a = { name: 'a', typeUrl: 'x/a', merge: () => ({}) };\nexport const b = [{ name: 'b', typeUrl: (t) => t === 'x/b', merge: () => ({}) }];\n",
    );
    const loaded = await loadMergePlugins([join(dir, 'two.mjs')]);
    expect(loaded.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('fails startup naming a plugin that cannot be loaded', async () => {
    await expect(loadMergePlugins(['./does-not-exist.js'], repoRoot)).rejects.toThrow(
      /Invalid environment: MERGE_PLUGINS plugin "\.\/does-not-exist\.js" could not be loaded/,
    );
  });

  it('rejects a plugin that does not declare its typeUrl', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plugin-'));
    writeFileSync(join(dir, 'untyped.mjs'), "export default { name: 'untyped', merge: () => ({}) };\n");
    await expect(loadMergePlugins([join(dir, 'untyped.mjs')])).rejects.toThrow(/MERGE_PLUGINS plugin ".*untyped\.mjs" must export/);
  });

  it('fails startup naming a module that exports no strategy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plugin-'));
    writeFileSync(join(dir, 'bad.mjs'), 'export default { name: "bad" };\n');
    await expect(loadMergePlugins([join(dir, 'bad.mjs')])).rejects.toThrow(
      /MERGE_PLUGINS plugin ".*bad\.mjs" must export merge strategies/,
    );
  });
});
