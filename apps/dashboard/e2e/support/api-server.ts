import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const DASHBOARD_DIST = join(REPO_ROOT, 'apps/dashboard/dist');
const API_MAIN = join(REPO_ROOT, 'apps/api/dist/main.js');
const API_CLI = join(REPO_ROOT, 'apps/api/dist/cli.js');
const BUILD_HINT = 'run `pnpm --filter @jobtrail/dashboard build:e2e` (or `pnpm build`) first';

/** Newest modification time under a folder, in ms. */
function newest(dir: string): number {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return max;
}

/**
 * The suite tests the built apps and builds nothing itself (turbo does, before the tests). A missing
 * build stops it; an older-looking one only warns, since a turbo cache hit leaves the outputs'
 * times alone when sources were merely touched.
 */
function assertBuilt(): void {
  const builds = [
    { what: 'the API', output: API_MAIN, sources: join(REPO_ROOT, 'apps/api/src') },
    {
      what: 'the dashboard',
      output: join(DASHBOARD_DIST, 'index.html'),
      sources: join(REPO_ROOT, 'apps/dashboard/src'),
    },
  ];
  for (const { what, output, sources } of builds) {
    if (!existsSync(output)) throw new Error(`${what} is not built (${output} is missing): ${BUILD_HINT}.`);
    if (newest(sources) > statSync(output).mtimeMs)
      console.warn(
        `${what} may have changed since it was built (${sources} is newer than ${output}); to test the current code, ${BUILD_HINT}.`,
      );
  }
}

export interface RunningApi {
  readonly baseUrl: string;
  readonly adminKey: string;
  /** Calls the API as the admin; JSON in, `{ status, body, headers }` out. */
  call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; headers: Headers }>;
  /** Runs the api's command-line tool on the same database (e.g. `tenant:create b`); its stdout. */
  cli(...args: string[]): Promise<string>;
  /** Everything the process printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Starts the real all-in-one process (API + worker + built dashboard) on a free port with a fresh
 * SQLite folder and a random admin key, and waits until /api/health answers.
 */
export async function startApi(extraEnv: Readonly<Record<string, string>> = {}): Promise<RunningApi> {
  assertBuilt();
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-e2e-'));
  const adminKey = `e2e_${randomBytes(24).toString('hex')}`;
  const baseUrl = `http://127.0.0.1:${port}`;
  let log = '';
  const env = {
    ...process.env,
    PORT: String(port),
    JOBTRAIL_DATA_DIR: dataDir,
    JOBTRAIL_ADMIN_KEY: adminKey,
    JOBTRAIL_DEMO: '0',
    JOBTRAIL_DASHBOARD_DIR: DASHBOARD_DIST,
    JOBTRAIL_LOG_LEVEL: 'warn',
    // The suite makes 120 refreshes on one connection and a few hundred calls a minute with one
    // key: the production limits (60 refreshes an hour, 600 requests a minute) are not under test here.
    JOBTRAIL_REFRESH_LIMIT_PER_HOUR: '100000',
    JOBTRAIL_RATE_LIMIT_PER_MINUTE: '100000',
    // The suites fail sandbox jobs with outages on purpose (user-down); five in a row open the
    // sandbox's circuit, which then holds every other sandbox job for the production cool-down.
    JOBTRAIL_CIRCUIT_COOLDOWN_MS: '500',
    DATABASE_URL: '',
    ...extraEnv,
  };
  const child: ChildProcess = spawn(process.execPath, [API_MAIN], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the API exited with ${child.exitCode} before it was healthy:\n${log}`);
    try {
      const res = await fetch(`${baseUrl}/api/health`);
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the API was not healthy within 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    baseUrl,
    adminKey,
    async call(method, path, body) {
      const res = await fetch(`${baseUrl}/api${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${adminKey}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as never, headers: res.headers };
    },
    cli: (...args) =>
      new Promise((resolve, reject) =>
        execFile(process.execPath, [API_CLI, ...args], { cwd: REPO_ROOT, env }, (err, stdout, stderr) =>
          err ? reject(new Error(`cli ${args.join(' ')} failed: ${stderr}`)) : resolve(stdout),
        ),
      ),
    output: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
