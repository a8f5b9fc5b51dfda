#!/usr/bin/env node
// The two set-up commands of the README (`npm start`, `npm test`) land here. Only Node built-ins are
// used, because on a fresh machine nothing else is installed yet: this script brings pnpm (the
// version pinned in package.json), installs the workspace, builds it, then starts or tests.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager; // pnpm@x.y.z

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env, ...opts });
  if (res.error) throw res.error;
  return res.status ?? 1;
}

function pnpmCommand() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0 && `pnpm@${probe.stdout.trim()}` === pinned) return ['pnpm', []];
  // No matching pnpm on PATH: run the pinned one through npx (it comes from the npm registry).
  return ['npx', ['--yes', pinned]];
}

const [pnpm, pre] = pnpmCommand();
const pn = (...args) => run(pnpm, [...pre, ...args]);
const mode = process.argv[2];

const installArgs = process.env.CI ? ['install', '--frozen-lockfile'] : ['install'];
if (pn(...installArgs) !== 0) process.exit(1);

if (mode === 'start') {
  if (pn('exec', 'turbo', 'run', 'build') !== 0) process.exit(1);
  process.exit(pn('--filter', '@jobtrail/api', 'run', 'start'));
} else if (mode === 'test') {
  // Every check a change must pass: types, lint, the test suites of every package (unit,
  // integration on SQLite and PostgreSQL, process-level), the hardening suite, then the browser
  // suite in Chromium.
  // One formatter keeps the tree uniform: a file it would change fails the run.
  if (pn('run', 'format:check') !== 0) process.exit(1);
  if (pn('exec', 'turbo', 'run', 'typecheck', 'lint', 'test', '--concurrency=1') !== 0) process.exit(1);
  if (pn('--filter', '@jobtrail/api', 'run', 'test:hardening') !== 0) process.exit(1);
  const chromium = '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    // CI installs Chromium first, so there its absence is a failure, not a reason.
    if (process.env.CI) {
      console.error(`The browser suite needs Chromium at ${chromium}.`);
      process.exit(1);
    }
    console.warn(`Browser suite not run: no Chromium at ${chromium} (apt-get install -y chromium).`);
    process.exit(0);
  }
  process.exit(pn('--filter', '@jobtrail/dashboard', 'run', 'test:e2e'));
} else {
  console.error('usage: node scripts/jobtrail.mjs start|test');
  process.exit(2);
}
