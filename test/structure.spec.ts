import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The shape the style guide promises: src/ is exactly what `node dist/main.js` runs (nothing from
// tools/ or test/), files stay small, and the image holds only the compiled proxy and its data.

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const MAX_LINES = 250;
/** What the runtime image may hold: the compiled proxy, the protos and examples it reads, package files for `npm ci`. */
const RUNTIME_IMAGE_SOURCES = ['dist', 'proto', 'examples', 'package.json', 'package-lock.json'];

/** Repository-relative, '/'-separated paths of every file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(join(repoRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

const toPosix = (path: string) => path.split(sep).join('/');
const isSpec = (path: string) => /\.(e2e-)?spec\.ts$/.test(path);
const srcFiles = filesUnder('src');
const srcTs = srcFiles.filter((path) => path.endsWith('.ts'));

/** Every module specifier a file names: static imports and re-exports, `import type`, dynamic import(), require(). */
function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);
}

/** Relative specifiers of `file` resolved to repository-relative paths (packages are left out). */
function localImports(file: string): Array<{ specifier: string; target: string }> {
  return importSpecifiers(readFileSync(join(repoRoot, file), 'utf8'))
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => ({ specifier, target: toPosix(relative(repoRoot, resolve(repoRoot, dirname(file), specifier))) }));
}

function importsInto(files: string[], folders: string[]): string[] {
  return files.flatMap((file) =>
    localImports(file)
      .filter(({ target }) => folders.some((folder) => target === folder || target.startsWith(`${folder}/`)))
      .map(({ specifier, target }) => `${file} imports '${specifier}' (${target})`),
  );
}

describe('src/ is only the proxy', () => {
  it('the import scanner sees every form of import (guards the checks below against false passes)', () => {
    const source = [
      "import a from '../tools/a.js';",
      "import type { B } from '../test/b.js';",
      "export * from './c.js';",
      "import './d.js';",
      "const e = await import('../tools/e.js');",
      '// a comment mentioning import("./not-an-import.js") is not an import',
    ].join('\n');
    expect(importSpecifiers(source)).toEqual(['../tools/a.js', '../test/b.js', './c.js', './d.js', '../tools/e.js']);
  });

  it('no runtime file under src/ (every .ts but *.spec.ts) imports from tools/ or test/', () => {
    const runtime = srcTs.filter((path) => !isSpec(path));
    expect(runtime.length).toBeGreaterThan(0);
    const offenders = importsInto(runtime, ['tools', 'test']);
    expect(offenders, `src/ is what dist/main.js runs; move these to src/ or out of runtime code:\n${offenders.join('\n')}`).toEqual([]);
  });

  it('specs under src/ may use the test kit in test/, but nothing from tools/', () => {
    const offenders = importsInto(srcTs.filter(isSpec), ['tools']);
    expect(offenders, `tools/ is not part of the proxy; specs beside the code must not need it:\n${offenders.join('\n')}`).toEqual([]);
  });
});

describe('file size', () => {
  it(`no file under src/ exceeds ${MAX_LINES} lines`, () => {
    const offenders = srcFiles
      .map((path) => ({ path, lines: readFileSync(join(repoRoot, path), 'utf8').replace(/\n$/, '').split('\n').length }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ path, lines }) => `${path}: ${lines} lines`);
    expect(offenders, `split these by concern (one concept per file):\n${offenders.join('\n')}`).toEqual([]);
  });
});

describe('what ships', () => {
  it('the Dockerfile runtime stage copies only dist/, proto/, examples/ and the package files', () => {
    const instructions = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')
      .replace(/\\\r?\n/g, ' ')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    const runtimeStage = instructions.slice(instructions.map((line) => /^FROM\s/i.test(line)).lastIndexOf(true));
    const copies = runtimeStage.filter((line) => /^(COPY|ADD)\s/i.test(line));
    expect(copies.length, 'no COPY found in the runtime stage (the last FROM)').toBeGreaterThan(0);

    const offenders = copies.flatMap((line) => {
      const args = line.split(/\s+/).slice(1);
      const sources = args.filter((arg) => !arg.startsWith('--')).slice(0, -1);
      const fromStage = args.some((arg) => /^--from=/i.test(arg));
      return sources
        .map((source) =>
          source
            .replace(/^\/app\//, '')
            .replace(/^\.\//, '')
            .replace(/\/$/, ''),
        )
        .filter((source) => !RUNTIME_IMAGE_SOURCES.includes(source) || (fromStage && source !== 'dist'))
        .map((source) => `${line}  (copies '${source}')`);
    });
    expect(offenders, `the runtime image may hold only ${RUNTIME_IMAGE_SOURCES.join(', ')}:\n${offenders.join('\n')}`).toEqual([]);
  });

  it('tsconfig.build.json compiles src/ only, without the specs', () => {
    const parsed = ts.getParsedCommandLineOfConfigFile(join(repoRoot, 'tsconfig.build.json'), undefined, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    });
    const compiled = (parsed?.fileNames ?? []).map((file) => toPosix(relative(repoRoot, file)));
    expect(compiled, 'tsconfig.build.json must compile src/main.ts').toContain('src/main.ts');

    const offenders = compiled.filter((file) => !file.startsWith('src/') || isSpec(file));
    expect(offenders, `dist/ must hold only the proxy; tsconfig.build.json also compiles:\n${offenders.join('\n')}`).toEqual([]);
    expect(toPosix(relative(repoRoot, parsed?.options.outDir ?? '')), 'tsconfig.build.json outDir').toBe('dist');
  });
});
