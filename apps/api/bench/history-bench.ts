/**
 * `pnpm bench`: the job history API against a bare `node:http` server doing the same database work,
 * on SQLite and on PostgreSQL, measured with autocannon on loopback. Ratios are what count (absolute
 * figures drift on shared machines).
 *
 * Environment:
 *   BENCH_JOBS         jobs to seed (default 1,000,000), ~96% on one connection, the rest on 4 others
 *   BENCH_DB           `sqlite,postgres` (default), or one of them
 *   BENCH_PG_URL       PostgreSQL server (default postgres://postgres@127.0.0.1:5432); a fresh database is made
 *   BENCH_DURATION     seconds per measured run (default 10; a 2 s warm-up precedes each scenario)
 *   BENCH_ROUNDS       measured runs per scenario and server, alternating Jobtrail and bare (default 2);
 *                      the best run counts, which damps interference from other work on the machine
 *   BENCH_CONNECTIONS  concurrent HTTP connections (default 20)
 *   BENCH_SCENARIOS    which request-rate scenarios: `page1,deep,refresh` (default all three)
 *   BENCH_BARE_ROWS    how the bare server reads SQLite rows: `objects` (better-sqlite3's own, the
 *                      default) or `arrays` (made into objects as Jobtrail's SqliteDatabase makes them)
 *   BENCH_LOG_LEVEL    Jobtrail's log level (default info, as in production; logs go to /dev/null)
 *   BENCH_METRICS_SMALL jobs at which `GET /api/metrics` is first timed (default 10,000); it is timed
 *                      again once all BENCH_JOBS are seeded, and the ratio printed (issue 10: O(1))
 *   BENCH_METRICS_SCRAPES scrapes per timing, each with the figures cache dropped (default 30; median counts)
 *   BENCH_CSV          `1` adds the CSV export's memory (csv-memory.ts: a separate API process streams the
 *                      measured connection's whole history, read at full speed then by a client that
 *                      pauses); `only` runs just that (no request-rate scenarios). Unset: not run.
 *   BENCH_CSV_PAUSE_MS how long the slow CSV reader stops reading, a quarter into the file (default 5000)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database, JOB_COLUMNS, jobToValues, placeholders, type SqlExecutor } from '@jobtrail/engine';
import { pino } from 'pino';
import { encodeCursor } from '../src/common/cursor.js';
import { loadConfig } from '../src/config/app-config.js';
import { createLogger } from '../src/logging/logger.js';
import { MetricsService } from '../src/metrics/metrics.service.js';
import { bareQueries, startBareServer, type BareRows } from './bare-server.js';
import { csvMemoryReport, measureCsvMemory } from './csv-memory.js';
import type { LoadResult } from './load.js';
import { load } from './load-client.js';
import { scratchDatabase, startBenchApp } from './bench-app.js';
import { terminalJob } from './terminal-job.js';

type Kind = 'sqlite' | 'postgres';

const env = process.env;
const JOBS = intEnv('BENCH_JOBS', 1_000_000, 1_000);
const DURATION = intEnv('BENCH_DURATION', 10, 1);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 20, 1);
const BARE_ROWS: BareRows = env.BENCH_BARE_ROWS === 'arrays' ? 'arrays' : 'objects';
const SCENARIOS = new Set((env.BENCH_SCENARIOS ?? 'page1,deep,refresh').split(',').map((s) => s.trim()));
const ROUNDS = intEnv('BENCH_ROUNDS', 2, 1);
const WARMUP = 2;
const PG_URL = (env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const LOG_LEVEL = env.BENCH_LOG_LEVEL ?? 'info';
const KINDS = (env.BENCH_DB ?? 'sqlite,postgres').split(',').map((s) => s.trim()) as Kind[];
const CSV = env.BENCH_CSV === 'only' ? 'only' : env.BENCH_CSV === '1' ? 'also' : 'off';
const CSV_PAUSE_MS = intEnv('BENCH_CSV_PAUSE_MS', 5_000, 0);
/** The CSV export's figures, printed after the table. */
const csvReport: string[] = [];
const PAGE = 50;
const METRICS_SMALL = intEnv('BENCH_METRICS_SMALL', 10_000, 1);
const METRICS_SCRAPES = intEnv('BENCH_METRICS_SCRAPES', 30, 1);
/**
 * Page 10,000 of 50 (rows 499,950 to 499,999, newest first, from 0) comes after the row at 499,949:
 * its cursor is that row's position. Seeds too small for it use the page in their middle.
 */
const DEEP_PAGE_TARGET = 10_000;

function intEnv(name: string, fallback: number, min: number): number {
  const raw = env[name]?.replaceAll('_', '');
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}`);
  return n;
}

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

/**
 * Stores rows of JOB_COLUMNS values: SQLite in multi-row INSERTs of 1,000 rows, PostgreSQL in one
 * INSERT ... SELECT FROM unnest(arrays) per batch (one parameter per column, whatever the rows).
 */
async function insertRows(
  tx: SqlExecutor,
  pgTypes: Record<string, string> | null,
  rows: readonly unknown[][],
): Promise<void> {
  if (rows.length === 0) return;
  if (pgTypes !== null) {
    const columns = JOB_COLUMNS.map((_, c) => rows.map((r) => r[c]));
    const arrays = JOB_COLUMNS.map((c, i) => `$${i + 1}::${pgTypes[c] ?? 'text'}[]`);
    await tx.execute(
      `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) SELECT * FROM unnest(${arrays.join(', ')})`,
      columns,
    );
    return;
  }
  for (let i = 0; i < rows.length; i += 1_000) {
    const chunk = rows.slice(i, i + 1_000);
    const width = JOB_COLUMNS.length;
    await tx.execute(
      `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES ${chunk.map((_, r) => `(${placeholders(width, width * r + 1)})`).join(', ')}`,
      chunk.flat(),
    );
  }
}

/** Seeds the jobs in big batches, one transaction each. Returns the main connection's deep cursor. */
async function seed(
  db: Database,
  tenantId: string,
  connectionIds: string[],
  total: number,
  /** Run once when `at` jobs are stored (the seed pauses for it). */
  checkpoint: { at: number; run: () => Promise<void> } | null = null,
): Promise<{ deepCursor: string; deepPage: number; mainCount: number }> {
  const [main, ...others] = connectionIds as [string, ...string[]];
  const mainCount = Math.floor(total * 0.96);
  const rowsPerTx = db.kind === 'sqlite' ? 50_000 : 10_000;
  // Newest first, the history of `main` is its jobs by descending time: index r is job mainCount-1-r.
  const deepPage =
    mainCount >= DEEP_PAGE_TARGET * PAGE ? DEEP_PAGE_TARGET : Math.max(2, Math.floor(mainCount / PAGE / 2));
  const deepRow = (deepPage - 1) * PAGE - 1;
  const start = Date.now() - total * 1_000 - 86_400_000;
  let deepCursor = '';
  let otherIndex = 0;
  let batch: unknown[][] = [];
  // PostgreSQL's unnest needs each array's type: the columns' own.
  const pgTypes =
    db.kind === 'postgres'
      ? Object.fromEntries(
          (
            await db.query<{ column_name: string; data_type: string }>(
              "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'jobs' AND table_schema = current_schema()",
            )
          ).map((r) => [r.column_name, r.data_type]),
        )
      : null;
  const t0 = Date.now();
  for (let i = 0; i < total; i++) {
    // Mostly the main connection; every 25th job goes to one of the others, interleaved in time.
    const onMain = i - otherIndex < mainCount && (i % 25 !== 24 || otherIndex >= total - mainCount);
    const createdAt = start + i * 1_000;
    const mainIndex = i - otherIndex;
    const job = terminalJob(onMain ? main : (others[otherIndex % others.length] as string), createdAt, i);
    if (!onMain) otherIndex++;
    else if (mainCount - 1 - mainIndex === deepRow) deepCursor = encodeCursor({ createdAt, id: job.id });
    batch.push(jobToValues(job, tenantId));
    const atCheckpoint = checkpoint !== null && i + 1 === checkpoint.at;
    if (batch.length === rowsPerTx || atCheckpoint) {
      const rows = batch;
      batch = [];
      await db.transaction((tx) => insertRows(tx, pgTypes, rows));
    }
    if (atCheckpoint) await checkpoint.run();
    if (i > 0 && i % 200_000 === 0)
      log(`  ${i.toLocaleString('en')} jobs (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  const rest = batch;
  await db.transaction((tx) => insertRows(tx, pgTypes, rest));
  if (!deepCursor) throw new Error('the deep cursor was not found while seeding');
  const counted = Number(
    (await db.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM jobs WHERE connection_id = $1', [main]))[0]?.n,
  );
  if (counted !== mainCount) throw new Error(`seeded ${counted} jobs on the main connection, expected ${mainCount}`);
  log(`  seeded ${total.toLocaleString('en')} jobs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (db.kind === 'postgres') await db.execute('VACUUM ANALYZE jobs');
  else await db.execute('ANALYZE');
  return { deepCursor, deepPage, mainCount };
}

/** A load run, with the CPU time this process (the server measured) spent on each request. */
interface Measured extends LoadResult {
  /**
   * This process's CPU time (user + system) over the run, per request. Less noisy than requests a
   * second on a shared machine; on PostgreSQL it leaves out the database server's own work.
   */
  readonly cpuMicros: number;
}

async function run(url: string, method: 'GET' | 'POST', key: string, durationSeconds: number): Promise<Measured> {
  const cpu = process.cpuUsage();
  const result = await load({
    url,
    method,
    headers: { Authorization: `Bearer ${key}` },
    connections: CONNECTIONS,
    durationSeconds,
  });
  if (result.failures > 0) throw new Error(`${method} ${url}: ${result.failures} failed requests`);
  const used = process.cpuUsage(cpu);
  return { ...result, cpuMicros: (used.user + used.system) / Math.max(1, result.total) };
}

/** Warms both servers up, then alternates measured runs of each; the best run of each counts. */
async function measurePair(
  appUrl: string,
  bareUrl: string,
  method: 'GET' | 'POST',
  key: string,
): Promise<{ app: Measured; bare: Measured }> {
  await run(appUrl, method, key, WARMUP);
  await run(bareUrl, method, key, WARMUP);
  // The most requests a second, and the least CPU a request: each the run least disturbed.
  const best = (a: Measured | null, b: Measured): Measured =>
    a === null ? b : { ...(b.rps > a.rps ? b : a), cpuMicros: Math.min(a.cpuMicros, b.cpuMicros) };
  let app: Measured | null = null;
  let bare: Measured | null = null;
  for (let i = 0; i < ROUNDS; i++) {
    app = best(app, await run(appUrl, method, key, DURATION));
    bare = best(bare, await run(bareUrl, method, key, DURATION));
  }
  return { app: app!, bare: bare! };
}

/** The same request to Jobtrail and to the bare server must answer the same JSON. */
async function sameAnswer(
  path: string,
  method: 'GET' | 'POST',
  key: string,
  appUrl: string,
  bareUrl: string,
): Promise<void> {
  const get = async (base: string) => {
    const res = await fetch(`${base}${path}`, { method, headers: { Authorization: `Bearer ${key}` } });
    return { status: res.status, link: res.headers.get('link'), body: await res.text() };
  };
  const [a, b] = [await get(appUrl), await get(bareUrl)];
  if (a.status !== b.status || a.link !== b.link || a.body !== b.body) {
    // Shown from where they part: bodies agree for hundreds of characters before a difference.
    let at = 0;
    while (at < a.body.length && a.body[at] === b.body[at]) at++;
    throw new Error(
      `Jobtrail and the bare server disagree on ${method} ${path} from character ${at}:\n  ${a.status} ${a.link} …${a.body.slice(Math.max(0, at - 100), at + 200)}\n  ${b.status} ${b.link} …${b.body.slice(Math.max(0, at - 100), at + 200)}`,
    );
  }
}

/**
 * Times `GET /api/metrics` as a scraper sees it, with the cached database figures dropped before
 * each scrape so that every one reads the database (a cached scrape would prove nothing). The
 * median of {@link METRICS_SCRAPES} scrapes, in milliseconds.
 */
async function timeMetrics(appUrl: string, metrics: MetricsService): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < METRICS_SCRAPES + 3; i++) {
    metrics.forgetCachedFigures();
    // The first scrape after the seed may find its kept-alive socket closed by the server's
    // keep-alive timeout: retried once (not timed: warm-up scrapes are dropped).
    if (i === 0)
      await fetch(`${appUrl}/api/metrics`).then(
        (r) => r.text(),
        () => undefined,
      );
    const t0 = performance.now();
    const res = await fetch(`${appUrl}/api/metrics`);
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200 || !text.includes('jobtrail_jobs{'))
      throw new Error(`GET /api/metrics answered ${res.status}`);
    // The first scrapes warm the statement cache and prom-client's collectors up.
    if (i >= 3) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

interface MetricsTiming {
  readonly kind: Kind;
  readonly small: number;
  readonly smallMs: number;
  readonly large: number;
  readonly largeMs: number;
}

interface Row {
  readonly kind: Kind;
  readonly scenario: string;
  readonly app: Measured;
  readonly bare: Measured;
}

async function benchKind(kind: Kind, metricsTimings: MetricsTiming[]): Promise<Row[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-bench-'));
  const { database, drop: dropDatabase } = await scratchDatabase(kind, dataDir, PG_URL, 'jobtrail_bench');
  const adminKey = `jt_bench_${randomBytes(24).toString('base64url')}`;
  // Shared with the separate API process of the CSV scenario (same database, key and cipher).
  const appEnv: Record<string, string> = {
    ...(database.kind === 'postgres' ? { DATABASE_URL: database.url } : {}),
    JOBTRAIL_DATA_DIR: dataDir,
    JOBTRAIL_ROLE: 'api',
    JOBTRAIL_ADMIN_KEY: adminKey,
    JOBTRAIL_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    JOBTRAIL_DEMO: '0',
    JOBTRAIL_LOG_LEVEL: LOG_LEVEL,
    JOBTRAIL_DASHBOARD_DIR: join(dataDir, 'no-dashboard'),
    // The limits stay in the path (their cost is measured) but never trip.
    JOBTRAIL_RATE_LIMIT_PER_MINUTE: '10000000',
    JOBTRAIL_REFRESH_LIMIT_PER_HOUR: '10000000',
  };
  const config = loadConfig({ PORT: '0', ...appEnv });
  const logger = createLogger(LOG_LEVEL, pino.destination({ dest: '/dev/null', sync: false }));
  const bareDb = { value: null as ReturnType<typeof bareQueries> | null };
  // Set by startBenchApp as soon as the app listens (a callback: typed wide so it is not narrowed to null).
  let closeApp = null as (() => Promise<void>) | null;
  let closeBare: (() => Promise<void>) | null = null;
  try {
    log(`${kind}: starting Jobtrail and seeding ${JOBS.toLocaleString('en')} jobs`);
    const { app, appUrl, db, tenantId, connectionIds } = await startBenchApp(
      config,
      logger,
      (close) => (closeApp = close),
    );
    const metrics = app.get(MetricsService);
    let smallMs = Number.NaN;
    const small = Math.min(METRICS_SMALL, JOBS);
    const { deepCursor, deepPage, mainCount } = await seed(db, tenantId, connectionIds, JOBS, {
      at: small,
      run: async () => {
        await db.execute(db.kind === 'postgres' ? 'VACUUM ANALYZE jobs' : 'ANALYZE');
        smallMs = await timeMetrics(appUrl, metrics);
        log(`${kind}: GET /api/metrics at ${small.toLocaleString('en')} jobs: ${smallMs.toFixed(2)} ms (median)`);
      },
    });
    const largeMs = await timeMetrics(appUrl, metrics);
    log(`${kind}: GET /api/metrics at ${JOBS.toLocaleString('en')} jobs: ${largeMs.toFixed(2)} ms (median)`);
    metricsTimings.push({ kind, small, smallMs, large: JOBS, largeMs });
    const main = connectionIds[0]!;

    // Before the request-rate scenarios, whose refresh adds a job to the measured connection.
    if (CSV !== 'off') {
      log(`${kind}: CSV export of ${mainCount.toLocaleString('en')} jobs, memory of a separate API process`);
      const result = await measureCsvMemory({
        env: appEnv,
        key: adminKey,
        connectionId: main,
        expectedRows: mainCount,
        pauseMs: CSV_PAUSE_MS,
      });
      csvReport.push(...csvMemoryReport(kind, result));
      if (CSV === 'only') return [];
    }

    bareDb.value = bareQueries(database, BARE_ROWS);
    const bare = await startBareServer(bareDb.value.query);
    closeBare = bare.close;

    const page1 = `/api/connections/${main}/jobs?limit=${PAGE}`;
    const deep = `/api/connections/${main}/jobs?limit=${PAGE}&cursor=${deepCursor}`;
    const refresh = `/api/connections/${main}/refresh`;
    // The first refresh creates the pending job; every later one answers 200 with it.
    const first = await fetch(`${appUrl}${refresh}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${adminKey}` },
    });
    if (first.status !== 202) throw new Error(`the first refresh answered ${first.status}`);
    for (const [path, method] of [
      [page1, 'GET'],
      [deep, 'GET'],
      [refresh, 'POST'],
    ] as const) {
      await sameAnswer(path, method, adminKey, appUrl, bare.url);
    }
    log(
      `${kind}: ${mainCount.toLocaleString('en')} jobs on the measured connection; deep page = page ${deepPage.toLocaleString('en')} of ${PAGE}`,
    );

    const rows: Row[] = [];
    for (const [name, scenario, path, method] of [
      ['page1', `GET jobs page 1`, page1, 'GET'],
      ['deep', `GET jobs page ${deepPage.toLocaleString('en')}`, deep, 'GET'],
      ['refresh', 'POST refresh (200, existing job)', refresh, 'POST'],
    ] as const) {
      if (!SCENARIOS.has(name)) continue;
      log(`${kind}: ${scenario}: Jobtrail and bare node:http, ${ROUNDS} × ${DURATION} s each`);
      const { app: a, bare: b } = await measurePair(`${appUrl}${path}`, `${bare.url}${path}`, method, adminKey);
      rows.push({ kind, scenario, app: a, bare: b });
    }
    return rows;
  } finally {
    await closeBare?.().catch(() => undefined);
    await bareDb.value?.close().catch(() => undefined);
    await closeApp?.().catch(() => undefined);
    await dropDatabase?.().catch((err: unknown) => log(`could not drop the bench database: ${String(err)}`));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function table(rows: Row[]): string {
  const fmt = (n: number) => Math.round(n).toLocaleString('en');
  const lines = [
    [
      'database',
      'scenario',
      'Jobtrail req/s',
      'bare req/s',
      'ratio',
      'Jobtrail p50/p99 ms',
      'bare p50/p99 ms',
      'CPU µs/req Jobtrail/bare',
      'CPU ratio',
    ],
    ...rows.map((r) => [
      r.kind,
      r.scenario,
      fmt(r.app.rps),
      fmt(r.bare.rps),
      `${(r.app.rps / r.bare.rps).toFixed(2)}×`,
      `${r.app.p50}/${r.app.p99}`,
      `${r.bare.p50}/${r.bare.p99}`,
      `${fmt(r.app.cpuMicros)}/${fmt(r.bare.cpuMicros)}`,
      `${(r.bare.cpuMicros / r.app.cpuMicros).toFixed(2)}×`,
    ]),
  ];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const render = (l: string[]) => l.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [render(lines[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(1).map(render)].join('\n');
}

async function main(): Promise<void> {
  for (const k of KINDS) if (k !== 'sqlite' && k !== 'postgres') throw new Error(`BENCH_DB: unknown database ${k}`);
  const rows: Row[] = [];
  const metricsTimings: MetricsTiming[] = [];
  for (const kind of KINDS) rows.push(...(await benchKind(kind, metricsTimings)));
  const out = [
    '',
    `Job history benchmark: ${JOBS.toLocaleString('en')} jobs, ${CONNECTIONS} connections, best of ${ROUNDS} × ${DURATION} s, Jobtrail log level ${LOG_LEVEL}, bare SQLite rows as ${BARE_ROWS}`,
    `(${cpus().length} CPUs, load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}: figures from a busy machine are noisy)`,
  ];
  if (rows.length > 0) out.push('', table(rows), '', 'Deep keyset page vs page 1 (time per request, target <= 1.2x):');
  for (const kind of KINDS) {
    const mine = rows.filter((r) => r.kind === kind);
    const p1 = mine.find((r) => r.scenario === 'GET jobs page 1');
    const deep = mine.find((r) => r.scenario.startsWith('GET jobs page') && r !== p1);
    if (p1 && deep)
      out.push(
        `  ${kind}: Jobtrail ${(p1.app.rps / deep.app.rps).toFixed(2)}x, bare ${(p1.bare.rps / deep.bare.rps).toFixed(2)}x  (${deep.scenario.replace('GET jobs ', '')})`,
      );
  }
  out.push('', 'GET /api/metrics, uncached (median of each timing; target: O(1) in the number of jobs, ratio near 1):');
  for (const m of metricsTimings)
    out.push(
      `  ${m.kind}: ${m.small.toLocaleString('en')} jobs ${m.smallMs.toFixed(2)} ms, ${m.large.toLocaleString('en')} jobs ${m.largeMs.toFixed(2)} ms: ratio ${(m.largeMs / m.smallMs).toFixed(2)}x`,
    );
  if (rows.length > 0) out.push('', 'Target: GET /connections/:id/jobs at least 0.8x the bare node:http handler.');
  if (csvReport.length > 0)
    out.push(
      '',
      'CSV export (Accept: text/csv), memory of the API process against its memory at rest:',
      ...csvReport,
      '  Target: flat memory, the peaks a few MB above rest whatever the file size or the reader speed.',
    );
  out.push('');
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
