/**
 * The baseline: a bare `node:http` server doing the same database work as Jobtrail's handlers,
 * with the same drivers (a better-sqlite3 prepared statement / a pg Pool), the same SQL (API key
 * lookup, history page, active-job lookup) and the same JSON summary shape — and nothing else.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import BetterSqlite3 from 'better-sqlite3';
import { describeError } from '@jobtrail/domain';
import pg from 'pg';

/** The same statements as ApiKeysRepository.findActiveKey, JobsRepository.findPage/findActiveJob and connectionExists. */
const SQL = {
  key: `SELECT k.*, t.name AS tenant_name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
        WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
  // TENANT: the tenant check as JobsRepository.findHistoryPage writes it for each database (never an
  // index condition, so that the page walks the connection's history index).
  page: 'SELECT * FROM jobs WHERE connection_id = ? AND TENANT ORDER BY created_at DESC, id DESC LIMIT ?',
  pageAfter:
    'SELECT * FROM jobs WHERE connection_id = ? AND TENANT AND created_at <= ? AND (created_at < ? OR (created_at = ? AND id < ?)) ORDER BY created_at DESC, id DESC LIMIT ?',
  active: `SELECT * FROM jobs WHERE connection_id = ? AND action = ? AND status IN ('pending', 'processing')`,
  exists: 'SELECT 1 AS found FROM connections WHERE id = ? AND tenant_id = ?',
} as const;

export type Row = Record<string, unknown>;
type Query = (sql: keyof typeof SQL, params: unknown[]) => Promise<Row[]>;

/**
 * How the bare server reads SQLite rows: better-sqlite3's own objects (the default, what a plain
 * handler writes), or raw arrays made into objects by a function compiled per statement, as
 * Jobtrail's `SqliteDatabase` does. The second isolates what Jobtrail's HTTP stack costs from what
 * its row reading saves.
 */
export type BareRows = 'objects' | 'arrays';

/** Runs the statements on SQLite (prepared once) or PostgreSQL (a pool of 10, like TypeORM's). */
export function bareQueries(
  db: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string },
  rows: BareRows = 'objects',
): {
  query: Query;
  close: () => Promise<void>;
} {
  if (db.kind === 'sqlite') {
    const handle = new BetterSqlite3(db.file);
    handle.pragma('busy_timeout = 5000');
    const statements = Object.fromEntries(
      Object.entries(SQL).map(([name, sql]) => [name, handle.prepare(sql.replace('TENANT', "tenant_id || '' = ?"))]),
    ) as Record<keyof typeof SQL, BetterSqlite3.Statement>;
    if (rows === 'arrays') {
      const readers = Object.fromEntries(
        Object.entries(statements).map(([name, stmt]) => {
          const fields = stmt
            .columns()
            .map((c, i) => `${JSON.stringify(c.name)}: v[${i}]`)
            .join(', ');
          const make = new Function('v', `return { ${fields} };`) as (v: unknown[]) => Row;
          const raw = stmt.raw(true);
          return [name, (params: unknown[]) => (raw.all(...params) as unknown[][]).map(make)];
        }),
      ) as Record<keyof typeof SQL, (params: unknown[]) => Row[]>;
      return { query: async (name, params) => readers[name](params), close: async () => void handle.close() };
    }
    return {
      query: async (name, params) => statements[name].all(...params) as Row[],
      close: async () => void handle.close(),
    };
  }
  const pool = new pg.Pool({ connectionString: db.url, max: 10 });
  const texts = Object.fromEntries(
    Object.entries(SQL).map(([name, sql]) => [name, toDollar(sql.replace('TENANT', '(tenant_id = ?) IS TRUE'))]),
  ) as Record<keyof typeof SQL, string>;
  return {
    query: async (name, params) => (await pool.query(texts[name], params)).rows as Row[],
    close: () => pool.end(),
  };
}

function toDollar(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(Number(v)).toISOString());

/** A stored job error as the wire shows it: with the catalogue's troubleshooting steps. */
function withTroubleshooting(e: { code: string; title: unknown; detail: unknown; retryable: unknown }) {
  return {
    code: e.code,
    title: e.title,
    detail: e.detail,
    retryable: e.retryable,
    troubleshooting: [...describeError(e.code).troubleshooting],
  };
}

/** A jobs row as the history's summary (the wire's JobSummary). */
export function summary(r: Row) {
  return {
    job_id: r.id,
    connection_id: r.connection_id,
    action: r.action,
    status: r.status,
    date: iso(r.created_at),
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
    updated_at: iso(r.updated_at),
    attempt: Number(r.attempt),
    max_attempts: Number(r.max_attempts),
    run_at: iso(r.run_at),
    error:
      r.error === null
        ? null
        : withTroubleshooting(JSON.parse(r.error as string) as Parameters<typeof withTroubleshooting>[0]),
    retry_of: r.retry_of,
    cancel_requested: r.cancel_requested_at !== null,
    challenge: challenge(r.challenge),
    version: Number(r.version),
  };
}

/** A stored one-time-code challenge as the wire shows it (its code and wrong tries stay inside). */
function challenge(json: unknown) {
  if (json === null || json === undefined) return null;
  const c = JSON.parse(json as string) as { type: string; prompt: string; expiresAt: string };
  return { type: c.type, prompt: c.prompt, expires_at: new Date(c.expiresAt).toISOString() };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

const ROUTE = /^\/api\/connections\/([0-9a-f-]{36})\/(jobs|refresh)$/;

/** Starts the bare server on a free loopback port. */
export async function startBareServer(query: Query): Promise<{ url: string; close: () => Promise<void> }> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = ROUTE.exec(url.pathname);
    if (!m) return send(res, 404, { code: 'route-not-found' });
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    const key = token ? (await query('key', [createHash('sha256').update(token, 'utf8').digest('hex')]))[0] : undefined;
    if (!key) return send(res, 401, { code: 'unauthorized' });
    const tenantId = key.tenant_id as string;
    const connectionId = m[1]!;
    if (m[2] === 'jobs' && req.method === 'GET') {
      const limit = Number(url.searchParams.get('limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) return send(res, 400, { code: 'validation-failed' });
      const cursor = url.searchParams.get('cursor');
      let rows: Row[];
      if (cursor) {
        const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [number, string];
        rows = await query('pageAfter', [connectionId, tenantId, createdAt, createdAt, createdAt, id, limit + 1]);
      } else {
        rows = await query('page', [connectionId, tenantId, limit + 1]);
      }
      if (rows.length === 0 && (await query('exists', [connectionId, tenantId])).length === 0)
        return send(res, 404, { code: 'not-found' });
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      const headers: Record<string, string> = {};
      if (rows.length > limit && last) {
        const next = Buffer.from(JSON.stringify([Number(last.created_at), last.id]), 'utf8').toString('base64url');
        url.searchParams.set('cursor', next);
        headers.Link = `<${url.pathname}${url.search}>; rel="next"`;
      }
      return send(res, 200, items.map(summary), headers);
    }
    if (m[2] === 'refresh' && req.method === 'POST') {
      const active = (await query('active', [connectionId, 'refresh']))[0];
      if (!active || (await query('exists', [connectionId, tenantId])).length === 0)
        return send(res, 404, { code: 'not-found' });
      return send(res, 200, summary(active));
    }
    return send(res, 404, { code: 'route-not-found' });
  };
  const server: Server = createServer((req, res) => {
    // The action endpoints take no body; drain whatever comes.
    req.resume();
    handle(req, res).catch(() => send(res, 500, { code: 'internal-error' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
