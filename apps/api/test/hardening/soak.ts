/**
 * `pnpm soak`: a mixed-load soak of a real all-in-one Jobtrail process (API + worker) on loopback.
 * Not a jest test and not run in CI: it takes minutes.
 *
 * Load (autocannon): refreshes (half of them with an Idempotency-Key), history reads, job reads
 * and tenant-wide searches, spread over many sandbox connections. Checks, each with its figures:
 *   - errors: no answer other than the expected ones (refresh 200/202, reads 200), no socket error
 *     or timeout;
 *   - pool timeouts: no 503;
 *   - memory: the server's RSS (/proc/<pid>/status) at the end of the load is less than 10 % above
 *     what it was just after the warm-up (floors over a tenth of the load: see WINDOW_MS);
 *   - backlog: every pending/processing job ends once the load stops;
 *   - the process is the same one throughout and exits 0 on SIGTERM.
 * Exits non-zero if any check fails.
 *
 * Environment: SOAK_SECONDS (300), SOAK_WARMUP_SECONDS (a tenth of it, 10..30), SOAK_DB=postgres
 * (default sqlite; PostgreSQL at JOBTRAIL_TEST_PG_URL or postgres://postgres@127.0.0.1:5432),
 * SOAK_CONCURRENCY (autocannon connections, 16), SOAK_CONNECTIONS (bank connections, 100).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Sqlite from 'better-sqlite3';
import pg from 'pg';

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

const SECONDS = intEnv('SOAK_SECONDS', 300);
const WARMUP_SECONDS = intEnv('SOAK_WARMUP_SECONDS', Math.min(30, Math.max(10, Math.round(SECONDS / 10))));
const CONCURRENCY = intEnv('SOAK_CONCURRENCY', 16);
const CONNECTIONS = intEnv('SOAK_CONNECTIONS', 100);
const DB: 'sqlite' | 'postgres' = process.env.SOAK_DB === 'postgres' ? 'postgres' : 'sqlite';
const PG_SERVER_URL = process.env.JOBTRAIL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const MAX_RSS_GROWTH = 0.1;
const DRAIN_TIMEOUT_MS = 60_000;
/**
 * RSS is sampled this often during the load. It saws up and down by a fifth with garbage
 * collection, so start and end are each the floor (lowest sample: the live set after a
 * collection) over the first and last tenth of the load, at least 10 s each. A leak raises the floor.
 */
const SAMPLE_MS = 500;
const WINDOW_MS = Math.max(10_000, SECONDS * 100);

/** The built process entry: apps/api/dist/main.js (this file runs from apps/api/bench/dist/test/hardening). */
function distMain(): string {
  const candidates = [
    fileURLToPath(new URL('../../../../dist/main.js', import.meta.url)),
    resolve(process.cwd(), 'dist/main.js'),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (!found)
    throw new Error(
      `the api is not built (looked for ${candidates.join(', ')}): run pnpm --filter @jobtrail/api build`,
    );
  return found;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => res(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Resident set size of a process in bytes (Linux), or null. */
function rssOf(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const mb = (bytes: number | null) =>
  bytes === null || Number.isNaN(bytes) ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** The database the server runs on, with a reader for the final counts. */
interface SoakDatabase {
  readonly env: NodeJS.ProcessEnv;
  countByStatus(): Promise<Record<string, number>>;
  drop(): Promise<void>;
}

async function createDatabase(dataDir: string): Promise<SoakDatabase> {
  const common = { JOBTRAIL_DATA_DIR: dataDir, JOBTRAIL_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  const countSql = 'SELECT status, COUNT(*) AS n FROM jobs GROUP BY status';
  if (DB === 'sqlite') {
    return {
      env: common,
      async countByStatus() {
        const db = new Sqlite(join(dataDir, 'jobtrail.sqlite'), { readonly: true, fileMustExist: true });
        try {
          db.pragma('busy_timeout = 5000');
          const rows = db.prepare(countSql).all() as Array<{ status: string; n: number }>;
          return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
        } finally {
          db.close();
        }
      },
      async drop() {},
    };
  }
  const name = `jobtrail_soak_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    env: { ...common, DATABASE_URL: `${PG_SERVER_URL}/${name}` },
    async countByStatus() {
      const c = new pg.Client({ connectionString: `${PG_SERVER_URL}/${name}` });
      await c.connect();
      try {
        const rows = (await c.query<{ status: string; n: string }>(countSql)).rows;
        return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
      } finally {
        await c.end();
      }
    },
    async drop() {
      const c = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** The all-in-one server process, with the tail of its output and the count of logged warnings/errors. */
class Server {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output: string[] = [];
  warnings = 0;
  errors = 0;
  exitedEarly = false;

  constructor(
    readonly port: number,
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, [distMain()], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        if (/"level":40/.test(line)) this.warnings++;
        if (/"level":(50|60)/.test(line)) this.errors++;
        this.output.push(line);
      }
      if (this.output.length > 200) this.output = this.output.slice(-200);
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((res) => this.child.on('exit', (code, signal) => res({ code, signal })));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(n = 30): string {
    return this.output.slice(-n).join('\n');
  }

  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (!this.running) throw new Error(`the server exited at start:\n${this.tail()}`);
      const res = await fetch(`http://127.0.0.1:${this.port}/api/health`).catch(() => null);
      if (res?.status === 200) return;
      await sleep(100);
    }
    throw new Error(`the server did not become healthy within ${timeoutMs} ms:\n${this.tail()}`);
  }
}

/** Answers counted per kind of request and status. */
type Tally = Record<string, Record<string, number>>;

interface LoadRun {
  readonly result: autocannon.Result;
  readonly tally: Tally;
  /** Answers per second of the run. */
  readonly perSecond: number[];
}

/**
 * One autocannon run of the mixed load. Each autocannon connection cycles through the four
 * requests; targets are drawn at random per request.
 */
async function mixedLoad(
  base: string,
  key: string,
  connectionIds: readonly string[],
  jobIds: string[],
  seconds: number,
): Promise<LoadRun> {
  const tally: Tally = {};
  const perSecond: number[] = [];
  const started = Date.now();
  const count = (kind: string, status: number) => {
    const t = (tally[kind] ??= {});
    t[String(status)] = (t[String(status)] ?? 0) + 1;
    const second = Math.floor((Date.now() - started) / 1000);
    perSecond[second] = (perSecond[second] ?? 0) + 1;
  };
  const result = await autocannon({
    url: base,
    connections: CONCURRENCY,
    duration: seconds,
    timeout: 10,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => ({
          ...req,
          path: `/api/connections/${pick(connectionIds)}/refresh`,
          body: '{}',
          headers: {
            ...req.headers,
            ...(Math.random() < 0.5 ? { 'idempotency-key': `soak-${randomBytes(8).toString('hex')}` } : {}),
          },
        }),
        onResponse: (status, body) => {
          count('refresh', status);
          if (status === 202) {
            try {
              const id = (JSON.parse(body) as { job_id?: string }).job_id;
              if (id) {
                if (jobIds.length >= 2_000) jobIds[Math.floor(Math.random() * jobIds.length)] = id;
                else jobIds.push(id);
              }
            } catch {
              // counted as a 202 anyway; the body is checked by the tests, not here
            }
          }
        },
      },
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: `/api/connections/${pick(connectionIds)}/jobs?limit=50` }),
        onResponse: (status) => count('history', status),
      },
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: `/api/jobs/${pick(jobIds)}` }),
        onResponse: (status) => count('job', status),
      },
      {
        method: 'GET',
        setupRequest: (req) => ({
          ...req,
          path: pick([
            '/api/jobs?status=failed&limit=20',
            '/api/jobs?action=refresh&limit=50',
            `/api/jobs?job_id=${pick(jobIds).slice(0, 8)}&limit=20`,
          ]),
        }),
        onResponse: (status) => count('search', status),
      },
    ],
  });
  return { result, tally, perSecond: Array.from(perSecond, (n) => n ?? 0) };
}

/** Answers that are not what the request should get: refresh 200/202, reads 200. */
function unexpected(tally: Tally): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [kind, statuses] of Object.entries(tally)) {
    const ok = kind === 'refresh' ? ['200', '202'] : ['200'];
    for (const [status, n] of Object.entries(statuses))
      if (!ok.includes(status)) out[`${kind} ${status}`] = (out[`${kind} ${status}`] ?? 0) + n;
  }
  return out;
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-soak-'));
  const db = await createDatabase(dataDir);
  const port = await freePort();
  const adminKey = `jt_soak_admin_${randomBytes(16).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('JOBTRAIL_') && k !== 'DATABASE_URL' && k !== 'PORT' && !k.startsWith('SOAK_')) env[k] = v;
  const server = new Server(port, {
    ...env,
    ...db.env,
    PORT: String(port),
    JOBTRAIL_ROLE: 'all',
    JOBTRAIL_ADMIN_KEY: adminKey,
    JOBTRAIL_DEMO: '0',
    JOBTRAIL_LOG_LEVEL: 'warn',
    JOBTRAIL_RATE_LIMIT_PER_MINUTE: '10000000',
    JOBTRAIL_REFRESH_LIMIT_PER_HOUR: '10000000',
    JOBTRAIL_SANDBOX_SLOW_STEP_MS: '100',
    JOBTRAIL_BACKOFF_BASE_MS: '500',
  });
  const base = `http://127.0.0.1:${port}`;
  const checks: Array<{ name: string; ok: boolean; figures: string }> = [];
  try {
    await server.waitHealthy();
    const pid = server.pid;
    process.stdout.write(
      `soak: ${DB}, ${SECONDS} s after a ${WARMUP_SECONDS} s warm-up, ${CONCURRENCY} concurrent HTTP connections, ${CONNECTIONS} bank connections; server pid ${pid}\n`,
    );

    // Bank connections: mostly quick, some slow (a backlog), some flaky (retries), some failing.
    const logins = ['user-ok', 'user-ok', 'user-ok', 'user-ok', 'user-slow', 'user-flaky', 'user-bad-password'];
    const connectionIds: string[] = [];
    const jobIds: string[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const res = await fetch(`${base}/api/connections`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          institution_id: 'sandbox',
          login_id: logins[i % logins.length],
          password: 'soak-password',
        }),
      });
      const body = (await res.json()) as { connection: { connection_id: string }; job: { job_id: string } };
      if (res.status !== 202) throw new Error(`POST /connections answered ${res.status}: ${JSON.stringify(body)}`);
      connectionIds.push(body.connection.connection_id);
      jobIds.push(body.job.job_id);
    }

    process.stdout.write(`soak: warm-up (${WARMUP_SECONDS} s)\n`);
    const warm = await mixedLoad(base, adminKey, connectionIds, jobIds, WARMUP_SECONDS);

    process.stdout.write(`soak: load (${SECONDS} s)\n`);
    const samples: Array<{ at: number; rss: number }> = [];
    const loadStart = Date.now();
    const sampler = setInterval(() => {
      const rss = rssOf(pid);
      if (rss !== null) samples.push({ at: Date.now() - loadStart, rss });
    }, SAMPLE_MS);
    const run = await mixedLoad(base, adminKey, connectionIds, jobIds, SECONDS);
    clearInterval(sampler);
    const loadMs = Date.now() - loadStart;

    // Backlog: every job ends once the load stops.
    const drainStart = Date.now();
    let drained = false;
    let left = -1;
    while (Date.now() - drainStart < DRAIN_TIMEOUT_MS) {
      const res = await fetch(`${base}/api/jobs?status=pending&status=processing&limit=200`, {
        headers: { Authorization: `Bearer ${adminKey}` },
      });
      left = res.status === 200 ? ((await res.json()) as unknown[]).length : -1;
      if (left === 0) {
        drained = true;
        break;
      }
      await sleep(250);
    }
    const drainMs = Date.now() - drainStart;
    const rssAfterDrain = rssOf(pid);
    const jobs = await db.countByStatus();

    // --- Checks and figures.
    const total = run.result.requests.total + warm.result.requests.total;
    const bad = unexpected({ ...mergeTallies(warm.tally, run.tally) });
    const socketErrors = run.result.errors + warm.result.errors;
    const timeouts = run.result.timeouts + warm.result.timeouts;
    const unavailable = Object.entries(bad)
      .filter(([k]) => k.endsWith(' 503'))
      .reduce((a, [, n]) => a + n, 0);
    checks.push({
      name: 'errors (answers other than refresh 200/202 and reads 200, socket errors, timeouts)',
      ok: sum(bad) - unavailable === 0 && socketErrors === 0,
      figures: `${sum(bad) - unavailable} unexpected answers ${JSON.stringify(bad)}, ${socketErrors} socket errors (${timeouts} timeouts) of ${total} requests`,
    });
    checks.push({ name: 'pool timeouts (503)', ok: unavailable === 0, figures: `${unavailable} of ${total}` });

    const startWindow = samples.filter((s) => s.at <= WINDOW_MS).map((s) => s.rss);
    const endWindow = samples.filter((s) => s.at >= loadMs - WINDOW_MS).map((s) => s.rss);
    const rssStart = startWindow.length ? Math.min(...startWindow) : Number.NaN;
    const rssEnd = endWindow.length ? Math.min(...endWindow) : Number.NaN;
    const growth = (rssEnd - rssStart) / rssStart;
    const peak = samples.length ? Math.max(...samples.map((s) => s.rss)) : Number.NaN;
    checks.push({
      name: `memory growth of the server (RSS, under ${MAX_RSS_GROWTH * 100} %)`,
      ok: Number.isFinite(growth) && growth < MAX_RSS_GROWTH,
      figures: Number.isFinite(growth)
        ? `floor ${mb(rssStart)} after warm-up -> ${mb(rssEnd)} at the end (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %; medians ${mb(median(startWindow))} -> ${mb(median(endWindow))}), peak ${mb(peak)}, ${mb(rssAfterDrain)} after the drain; ${samples.length} samples, windows of ${WINDOW_MS / 1000} s`
        : 'not measured (no /proc/<pid>/status)',
    });
    checks.push({
      name: 'backlog drained after the load',
      ok: drained,
      figures: drained
        ? `no pending/processing job ${drainMs} ms after the load stopped`
        : `${left} still pending/processing after ${DRAIN_TIMEOUT_MS} ms`,
    });
    const sameProcess = server.running && server.pid === pid;
    checks.push({
      name: 'same server process throughout',
      ok: sameProcess,
      figures: `pid ${pid}, ${server.warnings} warnings / ${server.errors} errors logged`,
    });

    const r = run.result;
    process.stdout.write(
      [
        '',
        `load: ${r.requests.total} requests in ${r.duration.toFixed(0)} s (${r.requests.average.toFixed(0)} req/s mean), latency p50 ${r.latency.p50} ms / p99 ${r.latency.p99} ms / max ${r.latency.max} ms; warm-up ${warm.result.requests.total} requests`,
        `answers: ${JSON.stringify(mergeTallies(warm.tally, run.tally))}`,
        `jobs in the database: ${JSON.stringify(jobs)}`,
        `server RSS over the load: ${timeline(samples, loadMs)}`,
        `throughput over the load (req/s per tenth): ${tenths(run.perSecond).join(', ')}`,
        '',
      ].join('\n'),
    );
  } catch (err) {
    checks.push({ name: 'soak ran', ok: false, figures: err instanceof Error ? err.message : String(err) });
  } finally {
    if (server.running) {
      server.child.kill('SIGTERM');
      const exit = await Promise.race([server.exited, sleep(20_000).then(() => null)]);
      checks.push({ name: 'server exits 0 on SIGTERM', ok: exit?.code === 0, figures: JSON.stringify(exit) });
      if (exit === null) server.child.kill('SIGKILL');
    } else checks.push({ name: 'server still running at the end', ok: false, figures: server.tail() });
    await db.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
  for (const c of checks) process.stdout.write(`${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.figures}\n`);
  const failed = checks.filter((c) => !c.ok).length;
  if (failed > 0) process.stdout.write(`\nsoak: ${failed} check(s) failed; server output tail:\n${server.tail()}\n`);
  else process.stdout.write('\nsoak: all checks passed\n');
  return failed === 0 ? 0 : 1;
}

/** RSS at each tenth of the load, for the figures. */
function timeline(samples: ReadonlyArray<{ at: number; rss: number }>, loadMs: number): string {
  const points: string[] = [];
  for (let i = 0; i <= 10; i++) {
    const at = (loadMs * i) / 10;
    const near = samples.reduce<{ at: number; rss: number } | null>(
      (best, s) => (best === null || Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best),
      null,
    );
    if (near) points.push(`${(near.at / 1000).toFixed(0)}s ${(near.rss / 1024 / 1024).toFixed(0)}`);
  }
  return `${points.join(', ')} (MB)`;
}

/** Mean of each tenth of a per-second series. */
function tenths(perSecond: readonly number[]): string[] {
  const out: string[] = [];
  const n = perSecond.length;
  for (let i = 0; i < 10 && n > 0; i++) {
    const part = perSecond.slice(
      Math.floor((n * i) / 10),
      Math.max(Math.floor((n * (i + 1)) / 10), Math.floor((n * i) / 10) + 1),
    );
    out.push((part.reduce((a, b) => a + b, 0) / part.length).toFixed(0));
  }
  return out;
}

function mergeTallies(a: Tally, b: Tally): Tally {
  const out: Tally = {};
  for (const t of [a, b]) {
    for (const [kind, statuses] of Object.entries(t)) {
      const o = (out[kind] ??= {});
      for (const [s, n] of Object.entries(statuses)) o[s] = (o[s] ?? 0) + n;
    }
  }
  return out;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
