#!/usr/bin/env node
// `npm test`: type-check (sources, tools and tests), lint, format check, build (the e2e tests run the built dist/main.js too), then every vitest
// suite, then the plain "N passed, N failed" line CI reads.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

// npm puts node_modules/.bin first on the PATH of its scripts, so `node` here is the Node 22 binary of
// the `node` devDependency even on a machine whose own Node is older (see README, Development).
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`npm test needs Node >= 22 (running ${process.version}): run it through npm (npm test) after npm ci`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env: process.env }).status ?? 1;

// Static checks first: a type error, a lint finding (zero warnings) or unformatted code fails the run
// before any socket is opened.
const steps = [
  ['npx', ['tsc', '-p', 'tsconfig.json']],
  ['npx', ['eslint', '.', '--max-warnings', '0']],
  ['npx', ['prettier', '--check', '--log-level', 'warn', '.']],
  ['npm', ['run', 'build:tools', '--silent']],
];
if (steps.some(([cmd, args]) => run(cmd, args) !== 0)) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

mkdirSync('.tmp', { recursive: true });
const report = '.tmp/vitest-report.json';
rmSync(report, { force: true });
const status = run('npx', [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
]);

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const result = JSON.parse(readFileSync(report, 'utf8'));
  passed = result.numPassedTests;
  failed = result.numFailedTests + (result.numFailedTestSuites > 0 && result.numFailedTests === 0 ? result.numFailedTestSuites : 0);
  skipped = result.numPendingTests + result.numTodoTests;
} catch {
  failed = Math.max(1, failed);
}
if (status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(status === 0 && failed === 0 ? 0 : 1);
