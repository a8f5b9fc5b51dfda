/**
 * `pnpm bench`, after history-bench: keyset paging at scale. Seeds millions of finished jobs with a
 * few set-based INSERTs (PostgreSQL: `generate_series`, SQLite: a recursive CTE) instead of
 * JavaScript batches, then times `GET /api/connections/:id/jobs?limit=50` one request at a time for
 * page 1 and for page 10,000, on Jobtrail (in-process, as in production) and on the bare
 * `node:http` server of bare-server.ts (the reference), and shows the deep page's plan. Target: the
 * deep page's median latency within 1.2x of page 1's.
 *
 * The seeded rows are history-bench's (`terminalJob`, one job a second, ids UUIDv7 of their
 * creation time built in SQL), checked against the engine's `jobToValues`; both pages must render
 * through the API and equal the bare server's answer. Then VACUUM ANALYZE (PostgreSQL) or ANALYZE.
 *
 * Environment:
 *   BENCH_PAGING          `0` skips this bench (anything else, or unset, runs it)
 *   BENCH_PAGING_JOBS     jobs to seed (default 10,000,000; at least 1,000), 96% on one connection
 *                         (every 25th job on one of 4 others, interleaved in time). Page 10,000 needs
 *                         over 500,000 on it (about 520,900 seeded); below, the deep page is the one
 *                         in the middle of its history
 *   BENCH_PAGING_DB       `sqlite,postgres` (default: BENCH_DB, else both), or one of them
 *   BENCH_PG_URL          PostgreSQL server (default postgres://postgres@127.0.0.1:5432); a fresh
 *                         database is made, and dropped at the end (SQLite: a temporary file)
 *   BENCH_PAGING_REQUESTS timed requests per page and server (default 300), after
 *                         BENCH_PAGING_WARMUP (default 50) untimed ones; page 1 and the deep page
 *                         alternate, so drift on the machine hits both alike
 *   BENCH_PAGING_INDEXES  `rebuild`: drop the secondary indexes of jobs for the load and recreate them
 *                         after it (only those whose definition comes back identical; the result is
 *                         checked against the migrated schema's); `keep`: load with them. Default:
 *                         rebuild on PostgreSQL (1.7x faster at 200,000 jobs), keep on SQLite (no faster)
 *   BENCH_LOG_LEVEL       Jobtrail's log level (default info, as in production; logs go to /dev/null)
 *
 * Latency is measured by a keep-alive `node:http` client in this process, from the request to the
 * body's last byte; the medians count (p90 shown), since a busy machine adds outliers.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { Database, JOB_COLUMNS, jobToValues, sqlText, uuidv7At, type Sql } from '@jobtrail/engine';
import { pino } from 'pino';
import { encodeCursor } from '../src/common/cursor.js';
import { loadConfig } from '../src/config/app-config.js';
import { createLogger } from '../src/logging/logger.js';
import { bareQueries, startBareServer } from './bare-server.js';
import { scratchDatabase, startBenchApp } from './bench-app.js';
import { terminalJob } from './terminal-job.js';

type Kind = 'sqlite' | 'postgres';

const env = process.env;
const JOBS = intEnv('BENCH_PAGING_JOBS', 10_000_000, 1_000);
const REQUESTS = intEnv('BENCH_PAGING_REQUESTS', 300, 10);
const WARMUP = intEnv('BENCH_PAGING_WARMUP', 50, 0);
const PG_URL = (env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const LOG_LEVEL = env.BENCH_LOG_LEVEL ?? 'info';
const KINDS = (env.BENCH_PAGING_DB ?? env.BENCH_DB ?? 'sqlite,postgres').split(',').map((s) => s.trim()) as Kind[];
const INDEXES = indexesEnv();
const PAGE = 50;
/** Page 10,000 of 50 (rows 499,950 to 499,999, newest first, from 0) comes after the row at 499,949. */
const DEEP_PAGE_TARGET = 10_000;
const TARGET_RATIO = 1.2;
/** Jobs per INSERT statement (one transaction each), so that progress shows and the WAL stays bounded. */
const ROWS_PER_STATEMENT = 1_000_000;
/** Every job is this long after the previous one (created_at is unique, ids follow it). */
const STEP_MS = 1_000;
/** Jobs of the kinds in `terminalJob` repeat every 10 (action: n % 5, status: n % 10). */
const KIND_CYCLE = 10;
/** Every 25th job is on one of the other connections. */
const OTHER_EVERY = 25;

function intEnv(name: string, fallback: number, min: number): number {
  const raw = env[name]?.replaceAll('_', '');
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}`);
  return n;
}

/** BENCH_PAGING_INDEXES: what the load does with the secondary indexes of jobs, per database. */
function indexesEnv(): Record<Kind, 'rebuild' | 'keep'> {
  const raw = env.BENCH_PAGING_INDEXES;
  if (raw === undefined || raw === '') return { postgres: 'rebuild', sqlite: 'keep' };
  if (raw !== 'rebuild' && raw !== 'keep') throw new Error('BENCH_PAGING_INDEXES must be rebuild or keep');
  return { postgres: raw, sqlite: raw };
}

const log = (msg: string) => process.stderr.write(`[paging-bench] ${msg}\n`);
const seconds = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

/** The connection of the seed's job `i` (0: the measured one; every 25th job: one of the other 4). */
function connectionIndexOf(i: number): number {
  return i % OTHER_EVERY === OTHER_EVERY - 1 ? 1 + (Math.floor(i / OTHER_EVERY) % 4) : 0;
}

/** How many of the first `total` jobs are on the measured connection. */
function mainCountOf(total: number): number {
  return total - Math.floor(total / OTHER_EVERY);
}

/** The seed index of the measured connection's `m`-th job (oldest first). */
function seedIndexOfMain(m: number): number {
  return m + Math.floor(m / (OTHER_EVERY - 1));
}

/** Columns holding a time: stored as created_at plus the offset `terminalJob` gives them. */
const TIME_COLUMNS = new Set([
  'created_at',
  'updated_at',
  'started_at',
  'finished_at',
  'run_at',
  'lease_expires_at',
  'deadline_at',
  'cancel_requested_at',
  'challenge_expires_at',
]);

/** SQL literal of a seed value (numbers, strings and null only: our own values, never input). */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (typeof v === 'string') return `'${v.replaceAll("'", "''")}'`;
  throw new Error(`no literal for ${typeof v}`);
}

/**
 * The SQL expression of every column of JOB_COLUMNS for the seed's job `i`, from the subquery `s`
 * (`i`, its time `t`, its kind `k` = i % 10, a hex time `h` and hex randomness `r`). The values
 * come from `terminalJob` itself (one per kind), so they are what the engine writes: times as
 * offsets from created_at, the rest as constants per kind; the result's transaction count follows
 * `i`, as in `terminalJob`.
 */
function columnExpressions(tenantId: string, connectionIds: readonly string[]): string[] {
  const at = 1_700_000_000_000;
  const kinds = Array.from({ length: KIND_CYCLE }, (_, n) => jobToValues(terminalJob('c', at, n), tenantId));
  return JOB_COLUMNS.map((column, c) => {
    if (column === 'id') {
      // A UUIDv7 (version 7, variant 10): 48 bits of milliseconds first, so ids sort as created_at.
      return `substr(s.h, 1, 8) || '-' || substr(s.h, 9, 4) || '-7' || substr(s.r, 1, 3) || '-' || substr('89ab', (s.i % 4) + 1, 1) || substr(s.r, 4, 3) || '-' || substr(s.r, 7, 12)`;
    }
    if (column === 'connection_id') {
      const others = connectionIds
        .slice(1)
        .map((id, o) => `WHEN ${o} THEN ${literal(id)}`)
        .join(' ');
      return `CASE WHEN s.i % ${OTHER_EVERY} = ${OTHER_EVERY - 1} THEN CASE (s.i / ${OTHER_EVERY}) % 4 ${others} END ELSE ${literal(connectionIds[0])} END`;
    }
    if (column === 'result') {
      // `terminalJob`'s result has the job's number (mod 500) as its transaction count.
      const parts = kinds.map((values, n) => {
        const v = values[c];
        if (v === null) return null;
        const marker = '"transactions":-1';
        const json = JSON.stringify({ ...(JSON.parse(v as string) as object), transactions: -1 });
        if (json !== (v as string).replace(`"transactions":${n % 500}`, marker)) throw new Error('unexpected result');
        const [before, after] = json.split(marker) as [string, string];
        return `${literal(`${before}"transactions":`)} || (s.i % 500) || ${literal(after)}`;
      });
      return `CASE s.k ${parts.map((p, n) => `WHEN ${n} THEN ${p ?? 'NULL'}`).join(' ')} END`;
    }
    const values = kinds.map((v) => {
      const value = v[c];
      if (TIME_COLUMNS.has(column) && value !== null) return `s.t + ${literal((value as number) - at)}`;
      return literal(value);
    });
    if (values.every((v) => v === values[0])) return values[0]!;
    return `CASE s.k ${values.map((v, n) => `WHEN ${n} THEN ${v}`).join(' ')} END`;
  });
}

interface JobIndex {
  readonly name: string;
  /** Its definition as the database gives it back (PostgreSQL: pg_get_indexdef; SQLite: as created). */
  readonly sql: string | null;
  /** Not behind a constraint (the primary key, a UNIQUE column): dropped and recreated as it was. */
  readonly droppable: boolean;
  readonly valid: boolean;
}

/** Every index of the jobs table. */
async function jobIndexes(kind: Kind, seeder: SeedHandle): Promise<Map<string, JobIndex>> {
  const rows =
    kind === 'postgres'
      ? await seeder.query<{ name: string; sql: string; constraint: boolean; valid: boolean }>(
          `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS sql, i.indisvalid AS valid,
                  EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS constraint
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           WHERE i.indrelid = 'jobs'::regclass`,
        )
      : (
          await seeder.query<{ name: string; sql: string | null }>(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'",
          )
        ).map((r) => ({ ...r, constraint: r.sql === null, valid: true }));
  return new Map(
    rows.map((r) => [r.name, { name: r.name, sql: r.sql, droppable: !r.constraint && r.sql !== null, valid: r.valid }]),
  );
}

const quoteName = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The indexes that may be dropped for the load and recreated after it: not behind a constraint,
 * and recreated from their definition exactly as they were (tried on a copy, while the table is
 * empty: PostgreSQL gives some predicates back in another form than the migration's).
 */
async function roundTripping(kind: Kind, seeder: SeedHandle, indexes: Map<string, JobIndex>): Promise<JobIndex[]> {
  const kept: JobIndex[] = [];
  for (const index of indexes.values()) {
    if (!index.droppable) continue;
    const copy = `${index.name}_roundtrip`;
    const named = (sql: string, from: string, to: string) =>
      sql.replace(new RegExp(`^(CREATE (?:UNIQUE )?INDEX (?:public\\.)?)("?)${from}("?) ON `, 'i'), `$1$2${to}$3 ON `);
    await seeder.query(named(index.sql!, index.name, copy));
    const again = (await jobIndexes(kind, seeder)).get(copy);
    await seeder.query(`DROP INDEX ${quoteName(copy)}`);
    if (again?.sql && named(again.sql, copy, index.name) === index.sql) kept.push(index);
    else log(`  ${index.name} kept through the load (recreated, it would read ${again?.sql ?? 'nothing'})`);
  }
  return kept;
}

/** One INSERT of the seed's jobs `from` to `to - 1`. */
function insertStatement(
  kind: Kind,
  pgTypes: Record<string, string> | null,
  expressions: readonly string[],
  start: number,
  from: number,
  to: number,
): string {
  const columns = JOB_COLUMNS.join(', ');
  const select = expressions
    .map((e, c) => (pgTypes ? `CAST(${e} AS ${pgTypes[JOB_COLUMNS[c]!] ?? 'text'})` : e))
    .join(',\n  ');
  if (kind === 'postgres') {
    // `i` an integer (substr takes one), the time a bigint.
    const time = `${start}::bigint + g.i::bigint * ${STEP_MS}`;
    return `INSERT INTO jobs (${columns})
SELECT ${select}
FROM (SELECT g.i, ${time} AS t, g.i % ${KIND_CYCLE} AS k, lpad(to_hex(${time}), 12, '0') AS h, md5(g.i::text) AS r
      FROM generate_series(${from}, ${to - 1}) AS g(i)) s`;
  }
  const time = `${start} + g.i * ${STEP_MS}`;
  return `WITH RECURSIVE g(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM g WHERE i < ${to - 1})
INSERT INTO jobs (${columns})
SELECT ${select}
FROM (SELECT g.i AS i, ${time} AS t, g.i % ${KIND_CYCLE} AS k, printf('%012x', ${time}) AS h, lower(hex(randomblob(9))) AS r
      FROM g) s`;
}

/** A connection of its own for the seed (no statement timeout, no pool); closed with `close`. */
interface SeedHandle {
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

async function seedHandle(database: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string }) {
  if (database.kind === 'postgres') {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query("SET maintenance_work_mem = '512MB'");
    return {
      query: async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as T[],
      close: () => client.end(),
    } satisfies SeedHandle;
  }
  const handle = new BetterSqlite3(database.file);
  handle.pragma('busy_timeout = 5000');
  handle.pragma('synchronous = NORMAL');
  handle.pragma('cache_size = -262144');
  return {
    query: async <T>(sql: string, params: unknown[] = []) => {
      const statement = handle.prepare(sql);
      if (statement.reader) return statement.all(...params) as T[];
      statement.run(...params);
      return [] as T[];
    },
    close: async () => void handle.close(),
  } satisfies SeedHandle;
}

/** Seeds `total` finished jobs, oldest first, in a few set-based INSERTs; then VACUUM ANALYZE / ANALYZE. */
async function seed(
  kind: Kind,
  seeder: SeedHandle,
  tenantId: string,
  connectionIds: readonly string[],
  total: number,
  start: number,
): Promise<{ insertSeconds: number; analyzeSeconds: number }> {
  const pgTypes =
    kind === 'postgres'
      ? Object.fromEntries(
          (
            await seeder.query<{ column_name: string; data_type: string }>(
              "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'jobs' AND table_schema = current_schema()",
            )
          ).map((r) => [r.column_name, r.data_type]),
        )
      : null;
  const expressions = columnExpressions(tenantId, connectionIds);
  const t0 = performance.now();
  const indexes = await jobIndexes(kind, seeder);
  const rebuilt = INDEXES[kind] === 'rebuild' ? await roundTripping(kind, seeder, indexes) : [];
  for (const index of rebuilt) await seeder.query(`DROP INDEX ${quoteName(index.name)}`);
  for (let from = 0; from < total; from += ROWS_PER_STATEMENT) {
    const to = Math.min(total, from + ROWS_PER_STATEMENT);
    if (kind === 'sqlite') await seeder.query('BEGIN');
    await seeder.query(insertStatement(kind, pgTypes, expressions, start, from, to));
    if (kind === 'sqlite') await seeder.query('COMMIT');
    log(`  ${to.toLocaleString('en')} jobs (${seconds(t0)})`);
  }
  if (rebuilt.length > 0) {
    for (const index of rebuilt) await seeder.query(index.sql!);
    log(`  ${rebuilt.length} indexes recreated (${seconds(t0)})`);
  }
  // Whether rebuilt or kept, jobs has exactly the migrated schema's indexes.
  const now = await jobIndexes(kind, seeder);
  const describe = (m: Map<string, JobIndex>) =>
    JSON.stringify([...m.values()].sort((a, b) => (a.name < b.name ? -1 : 1)));
  if (describe(now) !== describe(indexes))
    throw new Error(`the indexes of jobs changed:\n  before ${describe(indexes)}\n  after  ${describe(now)}`);
  const insertSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  if (kind === 'postgres') await seeder.query('VACUUM ANALYZE jobs');
  else {
    await seeder.query('ANALYZE');
    await seeder.query('PRAGMA wal_checkpoint(TRUNCATE)');
  }
  const analyzeSeconds = (performance.now() - t1) / 1000;
  log(`  ${kind === 'postgres' ? 'VACUUM ANALYZE' : 'ANALYZE'}: ${analyzeSeconds.toFixed(1)} s`);
  return { insertSeconds, analyzeSeconds };
}

/**
 * The seeded rows are the engine's: the oldest of each connection against `jobToValues` of the
 * same `terminalJob` (all columns but the id's random bits), and the counts per connection.
 */
async function checkSeed(
  seeder: SeedHandle,
  tenantId: string,
  connectionIds: readonly string[],
  total: number,
  start: number,
): Promise<void> {
  const sample = Math.min(total, 3 * OTHER_EVERY * KIND_CYCLE);
  const rows = await seeder.query<Record<string, unknown>>(
    // Through the tenant-wide index (tenant_id, created_at, id): the oldest jobs, not a scan of all.
    `SELECT * FROM jobs WHERE tenant_id = '${tenantId}' AND created_at < ${start + sample * STEP_MS} ORDER BY tenant_id, created_at, id`,
  );
  if (rows.length !== sample) throw new Error(`expected ${sample} sample rows, found ${rows.length}`);
  const uuid7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  rows.forEach((row, i) => {
    const createdAt = start + i * STEP_MS;
    const expected = jobToValues(terminalJob(connectionIds[connectionIndexOf(i)]!, createdAt, i), tenantId);
    JOB_COLUMNS.forEach((column, c) => {
      const got = row[column] === null ? null : String(row[column]);
      const want = expected[c] === null ? null : String(expected[c]);
      if (column === 'id') {
        if (!uuid7.test(got ?? '') || got!.slice(0, 13) !== uuidv7At(createdAt).slice(0, 13))
          throw new Error(`job ${i}: id ${got} is not a UUIDv7 of ${createdAt}`);
      } else if (got !== want) throw new Error(`job ${i}: ${column} is ${got}, the engine writes ${want}`);
    });
  });
  const counts = await seeder.query<{ connection_id: string; n: number | string }>(
    'SELECT connection_id, COUNT(*) AS n FROM jobs GROUP BY connection_id',
  );
  const byId = new Map(counts.map((r) => [r.connection_id, Number(r.n)]));
  const main = mainCountOf(total);
  if (byId.get(connectionIds[0]!) !== main)
    throw new Error(`${byId.get(connectionIds[0]!)} jobs on the measured connection, expected ${main}`);
  const all = [...byId.values()].reduce((a, b) => a + b, 0);
  if (all !== total) throw new Error(`${all} jobs seeded, expected ${total}`);
}

/** The keyset position of the measured connection's history row `row` (newest first, from 0). */
async function positionOfRow(
  seeder: SeedHandle,
  connectionId: string,
  row: number,
  total: number,
  start: number,
): Promise<{ createdAt: number; id: string }> {
  const [found] = await seeder.query<{ created_at: number | string; id: string }>(
    `SELECT created_at, id FROM jobs WHERE connection_id = '${connectionId}' ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ${row}`,
  );
  if (!found) throw new Error(`no row ${row} in the measured connection's history`);
  const expectedAt = start + seedIndexOfMain(mainCountOf(total) - 1 - row) * STEP_MS;
  if (Number(found.created_at) !== expectedAt)
    throw new Error(`history row ${row} was created at ${found.created_at}, expected ${expectedAt}`);
  return { createdAt: expectedAt, id: found.id };
}

/** One GET on a kept-alive socket: status, headers and body, and the milliseconds it took. */
function get(
  agent: Agent,
  base: string,
  path: string,
  key: string,
): Promise<{ status: number; link: string | undefined; body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(`${base}${path}`, { agent, headers: { Authorization: `Bearer ${key}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          link: [res.headers.link ?? []].flat().join(', ') || undefined,
          body: Buffer.concat(chunks).toString('utf8'),
          ms: performance.now() - t0,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Summary {
  readonly job_id: string;
  readonly date: string;
  readonly status: string;
  readonly action: string;
  readonly error: { code: string; troubleshooting: string[] } | null;
}

/**
 * A page as Jobtrail answers it must parse, hold `PAGE` rows starting at `firstAt` (newest first,
 * 1 s apart or 2 s across another connection's job), link to a next page, and equal the bare
 * server's answer byte for byte.
 */
async function checkPage(
  agent: Agent,
  appUrl: string,
  bareUrl: string,
  path: string,
  key: string,
  firstAt: number,
): Promise<void> {
  const [a, b] = [await get(agent, appUrl, path, key), await get(agent, bareUrl, path, key)];
  if (a.status !== 200) throw new Error(`GET ${path} answered ${a.status}: ${a.body.slice(0, 300)}`);
  const items = JSON.parse(a.body) as Summary[];
  if (!Array.isArray(items) || items.length !== PAGE) throw new Error(`GET ${path}: not a page of ${PAGE}`);
  if (items[0]!.date !== new Date(firstAt).toISOString())
    throw new Error(`GET ${path}: first job of ${items[0]!.date}, expected ${new Date(firstAt).toISOString()}`);
  for (let i = 1; i < items.length; i++) {
    const gap = Date.parse(items[i - 1]!.date) - Date.parse(items[i]!.date);
    if (gap !== STEP_MS && gap !== 2 * STEP_MS)
      throw new Error(`GET ${path}: jobs ${i - 1} and ${i} are ${gap} ms apart`);
    if (items[i - 1]!.job_id <= items[i]!.job_id) throw new Error(`GET ${path}: ids out of order at ${i}`);
  }
  const failed = items.find((j) => j.status === 'failed');
  if (!failed?.error?.troubleshooting.length) throw new Error(`GET ${path}: no failed job with its troubleshooting`);
  if (!a.link?.includes('rel="next"')) throw new Error(`GET ${path}: no next link`);
  if (a.status !== b.status || a.link !== b.link || a.body !== b.body)
    throw new Error(`GET ${path}: Jobtrail and the bare server disagree`);
  // A job's own page renders its steps and result too.
  for (const job of [failed, items.find((j) => j.status === 'success')!]) {
    const one = await get(agent, appUrl, `/api/jobs/${job.job_id}`, key);
    if (one.status !== 200) throw new Error(`GET /api/jobs/${job.job_id} answered ${one.status}`);
    const detail = JSON.parse(one.body) as { steps?: unknown[] };
    if (!Array.isArray(detail.steps) || detail.steps.length === 0)
      throw new Error(`GET /api/jobs/${job.job_id}: no steps`);
  }
}

interface Timing {
  readonly median: number;
  readonly p90: number;
}

function timing(samples: number[]): Timing {
  const sorted = [...samples].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p90: at(0.9) };
}

interface Row {
  readonly kind: Kind;
  readonly server: 'Jobtrail' | 'bare node:http';
  readonly jobs: number;
  readonly deepPage: number;
  readonly page1: Timing;
  readonly deep: Timing;
}

/**
 * Times page 1 and the deep page on both servers, one request at a time: each round asks for each
 * of the four in turn (the order flips every round), `WARMUP` untimed rounds first. Also returns
 * the time each request spent in Jobtrail's database calls (`dbTime`: from the call to its rows),
 * which tells the database's share of a gap from the rest of the request's.
 */
async function measure(
  agent: Agent,
  key: string,
  targets: ReadonlyArray<{ base: string; path: string }>,
  dbTime: { current: number },
): Promise<{ total: number[][]; db: number[][] }> {
  const total = targets.map(() => [] as number[]);
  const db = targets.map(() => [] as number[]);
  for (let round = 0; round < WARMUP + REQUESTS; round++) {
    const order = round % 2 === 0 ? targets.map((_, i) => i) : targets.map((_, i) => targets.length - 1 - i);
    for (const t of order) {
      dbTime.current = 0;
      const { status, ms } = await get(agent, targets[t]!.base, targets[t]!.path, key);
      if (status !== 200) throw new Error(`GET ${targets[t]!.path} answered ${status}`);
      if (round >= WARMUP) {
        total[t]!.push(ms);
        db[t]!.push(dbTime.current);
      }
    }
  }
  return { total, db };
}

type Built = readonly [Sql, readonly unknown[]];

/** Wraps the Database's `queryBuilt` (the path of every read of the history); returns the unwrap. */
function wrapQueryBuilt(db: Database, around: (built: Built, run: () => Promise<unknown[]>) => Promise<unknown[]>) {
  const target = db as unknown as { queryBuilt: (built: Built) => Promise<unknown[]> };
  const original = target.queryBuilt;
  target.queryBuilt = function (this: unknown, built: Built) {
    return around(built, () => original.call(this, built));
  };
  return () => void (target.queryBuilt = original);
}

async function benchKind(kind: Kind, out: string[]): Promise<Row[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-paging-'));
  const { database, drop: dropDatabase } = await scratchDatabase(kind, dataDir, PG_URL, 'jobtrail_paging');
  const adminKey = `jt_bench_${randomBytes(24).toString('base64url')}`;
  const config = loadConfig({
    PORT: '0',
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
  });
  const logger = createLogger(LOG_LEVEL, pino.destination({ dest: '/dev/null', sync: false }));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let seeder: SeedHandle | null = null;
  let bareDb: ReturnType<typeof bareQueries> | null = null;
  // Set by startBenchApp as soon as the app listens (a callback: typed wide so it is not narrowed to null).
  let closeApp = null as (() => Promise<void>) | null;
  let closeBare: (() => Promise<void>) | null = null;
  try {
    // Jobtrail migrates the database (the engine's MIGRATIONS) and makes the admin key's tenant.
    log(`${kind}: starting Jobtrail on a fresh database`);
    const { appUrl, db, tenantId, connectionIds } = await startBenchApp(config, logger, (close) => (closeApp = close));
    const main = connectionIds[0]!;

    log(`${kind}: seeding ${JOBS.toLocaleString('en')} jobs`);
    seeder = await seedHandle(database);
    const start = Date.now() - JOBS * STEP_MS - 86_400_000;
    const { insertSeconds, analyzeSeconds } = await seed(kind, seeder, tenantId, connectionIds, JOBS, start);
    await checkSeed(seeder, tenantId, connectionIds, JOBS, start);

    const mainCount = mainCountOf(JOBS);
    const deepPage =
      mainCount > DEEP_PAGE_TARGET * PAGE ? DEEP_PAGE_TARGET : Math.max(2, Math.floor(mainCount / PAGE / 2));
    const deepRow = (deepPage - 1) * PAGE - 1;
    const after = await positionOfRow(seeder, main, deepRow, JOBS, start);
    const cursor = encodeCursor(after);
    const newestAt = (row: number) => start + seedIndexOfMain(mainCount - 1 - row) * STEP_MS;

    bareDb = bareQueries(database);
    const bare = await startBareServer(bareDb.query);
    closeBare = bare.close;
    const page1 = `/api/connections/${main}/jobs?limit=${PAGE}`;
    const deep = `${page1}&cursor=${cursor}`;
    await checkPage(agent, appUrl, bare.url, page1, adminKey, newestAt(0));
    await checkPage(agent, appUrl, bare.url, deep, adminKey, newestAt(deepRow + 1));
    log(
      `${kind}: ${mainCount.toLocaleString('en')} jobs on the measured connection; deep page = page ${deepPage.toLocaleString('en')}; both pages render and equal the bare server's`,
    );

    log(`${kind}: timing ${REQUESTS} requests of each page on each server (after ${WARMUP} untimed)`);
    const dbTime = { current: 0 };
    const unwrap = wrapQueryBuilt(db, async (_, run) => {
      const t0 = performance.now();
      try {
        return await run();
      } finally {
        dbTime.current += performance.now() - t0;
      }
    });
    let measured: Awaited<ReturnType<typeof measure>>;
    try {
      measured = await measure(
        agent,
        adminKey,
        [
          { base: appUrl, path: page1 },
          { base: appUrl, path: deep },
          { base: bare.url, path: page1 },
          { base: bare.url, path: deep },
        ],
        dbTime,
      );
    } finally {
      unwrap();
    }
    const [appPage1, appDeep, barePage1, bareDeep] = measured.total;
    const [dbPage1, dbDeep] = measured.db;

    const plan = await explainDeepPage(kind, db, seeder, agent, appUrl, deep, adminKey, after.id);
    out.push(
      '',
      `${kind}: seeded ${JOBS.toLocaleString('en')} jobs in ${insertSeconds.toFixed(1)} s (+ ${kind === 'postgres' ? 'VACUUM ANALYZE' : 'ANALYZE'} ${analyzeSeconds.toFixed(1)} s); deep page ${deepPage.toLocaleString('en')}'s SQL, as Jobtrail runs it:`,
      ...plan.map((l) => `  ${l}`),
      `  Jobtrail's time in the database per request (queryBuilt, median/p90 ms): page 1 ${fmtTiming(timing(dbPage1!))}, deep page ${fmtTiming(timing(dbDeep!))}`,
    );
    return [
      { kind, server: 'Jobtrail', jobs: JOBS, deepPage, page1: timing(appPage1!), deep: timing(appDeep!) },
      { kind, server: 'bare node:http', jobs: JOBS, deepPage, page1: timing(barePage1!), deep: timing(bareDeep!) },
    ];
  } finally {
    agent.destroy();
    await closeBare?.().catch(() => undefined);
    await bareDb?.close().catch(() => undefined);
    await closeApp?.().catch(() => undefined);
    await seeder?.close().catch(() => undefined);
    await dropDatabase?.().catch((err: unknown) => log(`could not drop the bench database: ${String(err)}`));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The deep page's SQL exactly as Jobtrail sends it (caught on its way to the database during one
 * request), explained: PostgreSQL's EXPLAIN (ANALYZE, BUFFERS), SQLite's EXPLAIN QUERY PLAN. The
 * plan must read the history index backwards from the cursor, with no sort.
 */
async function explainDeepPage(
  kind: Kind,
  db: Database,
  seeder: SeedHandle,
  agent: Agent,
  appUrl: string,
  deep: string,
  key: string,
  afterId: string,
): Promise<string[]> {
  let caught: Built | null = null;
  const unwrap = wrapQueryBuilt(db, (built, run) => {
    if (built[1].includes(afterId)) caught = built;
    return run();
  });
  try {
    await get(agent, appUrl, deep, key);
  } finally {
    unwrap();
  }
  if (caught === null) throw new Error("the deep page's query was not seen");
  const [statement, params] = caught as Built;
  const sql = sqlText(statement);
  const lines = [`SQL: ${sql.replace(/\s+/g, ' ')}`];
  let plan: string[];
  if (kind === 'postgres') {
    const rows = await seeder.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, [...params]);
    plan = rows.map((r) => r['QUERY PLAN']);
  } else {
    const rows = await seeder.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, [...params]);
    plan = rows.map((r) => r.detail);
  }
  const text = plan.join('\n');
  const ok = /ix_jobs_history/.test(text) && !/Sort|TEMP B-TREE/i.test(text);
  return [
    ...lines,
    ...plan.slice(0, 12),
    `plan check: ${ok ? 'ok (the history index, no sort)' : 'NOT the history index without a sort'}`,
  ];
}

const fmtTiming = (t: Timing) => `${t.median.toFixed(2)} / ${t.p90.toFixed(2)}`;

function table(rows: Row[]): string {
  const fmt = fmtTiming;
  const lines = [
    ['database', 'server', 'jobs', 'page 1 median/p90 ms', 'deep page', 'deep median/p90 ms', 'ratio', 'target', ''],
    ...rows.map((r) => {
      const ratio = r.deep.median / r.page1.median;
      return [
        r.kind,
        r.server,
        r.jobs.toLocaleString('en'),
        fmt(r.page1),
        r.deepPage.toLocaleString('en'),
        fmt(r.deep),
        `${ratio.toFixed(2)}x`,
        `<= ${TARGET_RATIO}x`,
        r.server === 'Jobtrail' ? (ratio <= TARGET_RATIO ? 'met' : 'MISSED') : '(reference)',
      ];
    }),
  ];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const render = (l: string[]) =>
    l
      .map((c, i) => (i < 2 || i === 8 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [render(lines[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(1).map(render)].join('\n');
}

async function main(): Promise<void> {
  if (env.BENCH_PAGING === '0') {
    log('skipped (BENCH_PAGING=0)');
    return;
  }
  for (const k of KINDS)
    if (k !== 'sqlite' && k !== 'postgres') throw new Error(`BENCH_PAGING_DB: unknown database ${k}`);
  const rows: Row[] = [];
  const details: string[] = [];
  for (const kind of KINDS) rows.push(...(await benchKind(kind, details)));
  const out = [
    '',
    `Keyset paging benchmark: GET /api/connections/:id/jobs?limit=${PAGE}, page 1 vs the deep page (page ${DEEP_PAGE_TARGET.toLocaleString('en')} when the history has it), ${REQUESTS} sequential requests each after ${WARMUP} untimed, Jobtrail log level ${LOG_LEVEL}`,
    `(${cpus().length} CPUs, load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}: figures from a busy machine are noisy; the ratio of medians counts)`,
    '',
    table(rows),
    ...details,
    '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`paging bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
