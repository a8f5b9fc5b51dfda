import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SealedPositions } from '../../src/common/sealed-positions.js';
import { setTimeout as sleep } from 'node:timers/promises';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { PG_SERVER_URL, type DatabaseKind } from './test-app.js';
import { waitFor } from './wait.js';

/**
 * Process-level tests: real `node dist/main.js` processes (turbo builds dist before `test`), each
 * with its own environment, killed for sure at the end of every test.
 */

/** The built process entry. */
export const DIST_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** How a process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const KEEP_LINES = 400;

/** Every child still running: killed if the test process itself exits first (crash, timeout). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** One running Jobtrail process, with the tail of its output. */
export class JobtrailProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  /** Everything written to stderr (small: start-up failures). */
  stderr = '';
  /** The last lines written to stdout. */
  readonly stdout: string[] = [];
  private exit: Exit | null = null;
  private partial = '';

  constructor(
    readonly name: string,
    readonly env: NodeJS.ProcessEnv,
  ) {
    if (!existsSync(DIST_MAIN))
      throw new Error(`${DIST_MAIN} is missing: build the api first (pnpm --filter @jobtrail/api build)`);
    this.child = spawn(process.execPath, [DIST_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (this.partial + chunk).split('\n');
      this.partial = lines.pop() ?? '';
      this.stdout.push(...lines);
      if (this.stdout.length > KEEP_LINES) this.stdout.splice(0, this.stdout.length - KEEP_LINES);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.stderr.length < 100_000) this.stderr += chunk;
    });
    live.add(this.child);
    this.exited = new Promise<Exit>((resolve) => {
      this.child.on('exit', (code, signal) => {
        live.delete(this.child);
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** The HTTP base of this process (when it listens). */
  get base(): string {
    return `http://127.0.0.1:${this.env.PORT}/api`;
  }

  /** The last output, for failure messages. */
  tail(lines = 30): string {
    return [
      `--- ${this.name} (pid ${this.pid}) stdout:`,
      ...this.stdout.slice(-lines),
      this.partial,
      `--- ${this.name} stderr:`,
      this.stderr.slice(-4_000),
    ].join('\n');
  }

  /** Waits until a stdout line matches. */
  async waitForLine(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    return waitFor(
      `${this.name} to print ${pattern}`,
      async () => {
        const line = this.stdout.find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (!this.running) throw new Error(`${this.name} exited: ${JSON.stringify(this.exit)}\n${this.tail()}`);
        return undefined;
      },
      timeoutMs,
      25,
    );
  }

  /** Waits until `GET /api/health` answers 200. */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      `${this.name} to be healthy`,
      async () => {
        if (!this.running) throw new Error(`${this.name} exited: ${JSON.stringify(this.exit)}\n${this.tail()}`);
        const res = await fetch(`${this.base}/health`).catch(() => null);
        return res?.status === 200 ? true : undefined;
      },
      timeoutMs,
      50,
    );
  }

  /** Waits until a worker process is up (the worker role does not listen on HTTP). */
  async waitWorkerReady(timeoutMs = 20_000): Promise<void> {
    await this.waitForLine(/Jobtrail worker running/, timeoutMs);
  }

  /** How it exited, or null if it still runs after `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<Exit | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGKILL, and wait until it is gone. */
  async kill(): Promise<Exit> {
    this.signal('SIGKILL');
    return this.exited;
  }
}

/** The processes of one test: all of them are SIGKILLed by `killAll` (call it in afterEach). */
export class ProcessGroup {
  readonly all: JobtrailProcess[] = [];

  constructor(private readonly baseEnv: NodeJS.ProcessEnv) {}

  /** Starts `node dist/main.js` with the group's environment plus `env`. */
  start(name: string, env: NodeJS.ProcessEnv = {}): JobtrailProcess {
    const p = new JobtrailProcess(name, { ...this.baseEnv, ...env });
    this.all.push(p);
    return p;
  }

  /** The output tails of every process, for failure messages. */
  tails(lines = 30): string {
    return this.all.map((p) => p.tail(lines)).join('\n');
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all.filter((p) => p.running).map((p) => p.kill()));
  }
}

/**
 * The environment a child gets: the parent's minus anything Jobtrail would read from it, plus test
 * defaults: no demo data, warnings only, and request limits out of the way of bulk creation.
 */
export function testEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      k.startsWith('JOBTRAIL_') ||
      k === 'DATABASE_URL' ||
      k === 'PORT' ||
      k.startsWith('NODE_OPTIONS') ||
      k.startsWith('JEST')
    )
      continue;
    env[k] = v;
  }
  return {
    ...env,
    JOBTRAIL_DEMO: '0',
    JOBTRAIL_LOG_LEVEL: 'warn',
    JOBTRAIL_RATE_LIMIT_PER_MINUTE: '10000000',
    JOBTRAIL_REFRESH_LIMIT_PER_HOUR: '10000000',
  };
}

/** Read access to the database the processes use, for checks the API does not expose. */
export interface DbReader {
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** A fresh database for a group of processes: its environment, a reader, and its removal. */
export interface TestDatabase {
  readonly kind: DatabaseKind;
  /** DATABASE_URL / JOBTRAIL_DATA_DIR / JOBTRAIL_ENCRYPTION_KEY for the processes. */
  readonly env: NodeJS.ProcessEnv;
  readonly dataDir: string;
  readonly reader: DbReader;
  drop(): Promise<void>;
}

/** Creates a new PostgreSQL database (or a new SQLite data folder). */
export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-proc-'));
  const encryptionKey = randomBytes(32).toString('base64');
  if (kind === 'sqlite') {
    let db: Sqlite.Database | null = null;
    const open = () => {
      db ??= new Sqlite(join(dataDir, 'jobtrail.sqlite'), { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      return db;
    };
    return {
      kind,
      dataDir,
      env: { JOBTRAIL_DATA_DIR: dataDir, JOBTRAIL_ENCRYPTION_KEY: encryptionKey },
      reader: {
        async query<T>(sql: string, params: unknown[] = []) {
          return open()
            .prepare(sql)
            .all(...params) as T[];
        },
      },
      async drop() {
        db?.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const name = `jobtrail_proc_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = `${PG_SERVER_URL}/${name}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // An idle client whose connection the server dropped is discarded by the pool; the next query reconnects.
  pool.on('error', () => undefined);
  return {
    kind,
    dataDir,
    env: { DATABASE_URL: url, JOBTRAIL_DATA_DIR: dataDir, JOBTRAIL_ENCRYPTION_KEY: encryptionKey },
    reader: {
      async query<T>(sql: string, params: unknown[] = []) {
        let n = 0;
        return (
          await pool.query(
            sql.replace(/\?/g, () => `$${++n}`),
            params,
          )
        ).rows as T[];
      },
    },
    async drop() {
      await pool.end().catch(() => undefined);
      const c = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A small JSON client of one API process. */
export function apiClient(base: string, key: string) {
  // Bodies are read field by field in the tests, like supertest's `res.body`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  return {
    call,
    /** POST /connections: the connection id and its first job id. */
    async connect(login: string): Promise<{ connectionId: string; jobId: string }> {
      const res = await call('POST', '/connections', { institution_id: 'sandbox', login_id: login, password: 'pw' });
      if (res.status !== 202) throw new Error(`POST /connections: ${res.status} ${JSON.stringify(res.body)}`);
      return { connectionId: res.body.connection.connection_id, jobId: res.body.job.job_id };
    },
    /** POST /connections/:id/refresh|purge: the job, and whether it is new (202) or the running one (200). */
    async action(connectionId: string, action: 'refresh' | 'purge'): Promise<{ jobId: string; created: boolean }> {
      const res = await call('POST', `/connections/${connectionId}/${action}`);
      if (res.status !== 202 && res.status !== 200)
        throw new Error(`POST ${action}: ${res.status} ${JSON.stringify(res.body)}`);
      return { jobId: res.body.job_id, created: res.status === 202 };
    },
  };
}

/** One recorded status transition, as stored in job_events. */
export interface TransitionRow {
  id: number;
  job_id: string;
  connection_id: string;
  at: number;
  from_status: string;
  to_status: string;
  reason: string;
  actor: string;
  attempt: number;
}

/** Every transition, in the order they were committed (event ids). */
export async function readTransitions(reader: DbReader): Promise<TransitionRow[]> {
  const rows = await reader.query<TransitionRow>(
    `SELECT id, job_id, connection_id, at, from_status, to_status, reason, actor, attempt FROM job_events WHERE kind = 'transition' ORDER BY id`,
  );
  return rows.map((r) => ({ ...r, id: Number(r.id), at: Number(r.at), attempt: Number(r.attempt) }));
}

/**
 * Checks "at most one processing job per connection" over the whole history: per connection, the
 * intervals between a job's `→processing` and its next transition out of processing never overlap.
 * Checked twice: in commit order (event ids, exact) and by the recorded times. Returns violations.
 */
export function overlappingProcessing(transitions: readonly TransitionRow[]): string[] {
  const problems: string[] = [];
  const byConnection = new Map<string, TransitionRow[]>();
  for (const t of transitions) {
    const list = byConnection.get(t.connection_id) ?? [];
    list.push(t);
    byConnection.set(t.connection_id, list);
  }
  for (const [connectionId, list] of byConnection) {
    // Commit order: entering processing while another job of the connection is in it.
    const processing = new Set<string>();
    const intervals: Array<{ job: string; from: number; to: number }> = [];
    const open = new Map<string, number>();
    for (const t of list) {
      if (t.to_status === 'processing') {
        if (processing.size > 0)
          problems.push(
            `connection ${connectionId}: job ${t.job_id} claimed (event ${t.id}) while ${[...processing].join(', ')} processing`,
          );
        processing.add(t.job_id);
        open.set(t.job_id, t.at);
      } else if (t.from_status === 'processing') {
        if (!processing.delete(t.job_id))
          problems.push(
            `connection ${connectionId}: job ${t.job_id} left processing (event ${t.id}) without entering it`,
          );
        intervals.push({ job: t.job_id, from: open.get(t.job_id) ?? t.at, to: t.at });
        open.delete(t.job_id);
      }
    }
    for (const [job, from] of open) intervals.push({ job, from, to: Number.POSITIVE_INFINITY });
    // Recorded times: [from, to) intervals of different jobs do not overlap.
    intervals.sort((a, b) => a.from - b.from);
    for (let i = 1; i < intervals.length; i++) {
      const prev = intervals[i - 1]!;
      const cur = intervals[i]!;
      if (cur.from < prev.to)
        problems.push(
          `connection ${connectionId}: ${cur.job} processing from ${cur.from} overlaps ${prev.job} (${prev.from}..${prev.to})`,
        );
    }
  }
  return problems;
}

/** Counts of jobs by status. */
export async function statusCounts(reader: DbReader): Promise<Record<string, number>> {
  const rows = await reader.query<{ status: string; n: number | string }>(
    'SELECT status, COUNT(*) AS n FROM jobs GROUP BY status',
  );
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/**
 * Opens the event ids the processes sent to tenant `default` (sealed per tenant with a key derived
 * from the encryption key; see SealedPositions): their positions in the job_events sequence.
 */
export async function eventPositions(db: TestDatabase): Promise<(id: string | null) => number> {
  const positions = new SealedPositions(Buffer.from(db.env.JOBTRAIL_ENCRYPTION_KEY!, 'base64'));
  const [tenant] = await db.reader.query<{ id: string }>("SELECT id FROM tenants WHERE name = 'default'");
  if (!tenant) throw new Error('no tenant default');
  return (id) => {
    const n = id === null ? null : positions.openEventId(tenant.id, id);
    if (n === null) throw new Error(`event id ${id} does not open for tenant default`);
    return n;
  };
}

/** A random admin key for JOBTRAIL_ADMIN_KEY. */
export function newAdminKey(): string {
  return `jt_proc_admin_${randomBytes(16).toString('hex')}`;
}

export { sleep };
