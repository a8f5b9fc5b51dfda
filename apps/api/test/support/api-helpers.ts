import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from '@jest/globals';
import { createJob, jobError, type Job, type JobAction, type JobStatus } from '@jobtrail/domain';
import type { Response } from 'supertest';
import { ApiKeysRepository } from '../../src/auth/api-keys.repository.js';
import { ConnectionsRepository } from '../../src/connections/connections.repository.js';
import { CredentialsCipher } from '../../src/connections/credentials-cipher.js';
import { JobsStore, uuidv7At, type NewJobEvent } from '@jobtrail/engine';
import type { TestApp } from './test-app.js';

/** `Authorization` header of a key. */
export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** A random UUID (v4) that names nothing. */
export const randomId = () => {
  const b = randomBytes(16);
  b[6] = 0x40 | ((b[6] ?? 0) & 0x0f);
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/** A UUIDv7 whose time part is `ms` (random below it), like the ids the API makes. */
export { uuidv7At } from '@jobtrail/engine';

/** The target of a `Link: <...>; rel="next"` header, or null when there is none. */
export function nextLinkOf(res: Response): string | null {
  const link = res.headers.link as string | undefined;
  if (link === undefined) return null;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
  if (!m?.[1]) throw new Error(`malformed Link header: ${link}`);
  return m[1];
}

/**
 * One request over plain node:http that also copes with streams: a `text/event-stream` answer is
 * resolved as soon as its headers arrive (and the connection dropped), anything else when it ends.
 */
export function probe(
  server: Server,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const bodyHeaders =
      body === undefined
        ? {}
        : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) };
    const req = httpRequest(
      { host: '127.0.0.1', port, method: method.toUpperCase(), path, headers: { ...headers, ...bodyHeaders } },
      (res) => {
        const status = res.statusCode ?? 0;
        if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          resolve({ status, headers: res.headers, text: '' });
          req.destroy();
          return;
        }
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${method} ${path} within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Fragments that must never leave the server in an error: stack frames, SQL, file paths. */
const LEAKS: readonly RegExp[] = [
  /\n\s*at /,
  /\bat \S+ \(/,
  /\(?(file:\/\/)?\/?[\w.-]+(\/[\w.@+-]+)+\.(ts|js|mjs|cjs):\d+(:\d+)?/,
  /\bSELECT\b/i,
  /\bINSERT\b/i,
  /\bUPDATE\s+\w+\s+SET\b/i,
  /\bDELETE FROM\b/i,
  /node_modules/,
  /\/(work|home|tmp|usr|var|root)\//,
  /\bsrc\/\w+/,
  /SQLITE_|QueryFailedError|TypeORM|better-sqlite3/i,
];

/**
 * Asserts `res` is an RFC 9457 problem with this status (and code when given), with nothing of
 * the server's insides in it. Returns the parsed problem.
 */
export function expectProblem(
  res: Response,
  status: number,
  code?: string,
): Record<string, unknown> & { errors?: { field: string; message: string }[] } {
  const summary = `${res.status} ${res.text}`;
  expect({ status: res.status, summary }).toEqual({ status, summary });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(res.text) as Record<string, unknown> & { errors?: { field: string; message: string }[] };
  expect(body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), code: expect.any(String) });
  if (code !== undefined) expect(body.code).toBe(code);
  expectNoLeak(res);
  return body;
}

/** Asserts no stack frame, SQL or file path is in the response body. */
export function expectNoLeak(res: Response): void {
  for (const leak of LEAKS)
    expect({ leak: String(leak), match: leak.exec(res.text)?.[0] ?? null }).toEqual({
      leak: String(leak),
      match: null,
    });
}

/** The field names of a validation problem's `errors`. */
export const fieldsOf = (problem: { errors?: { field: string }[] }) => (problem.errors ?? []).map((e) => e.field);

/** The id of tenant `name`, creating it with a key of `role` if needed; returns that key. */
export async function tenantKey(
  t: TestApp,
  name: string,
  role: 'viewer' | 'operator' | 'admin' = 'admin',
): Promise<{ key: string; keyId: string; tenantId: string }> {
  const { key, id } = await t.createKey(role, name);
  const tenant = await t.app.get(ApiKeysRepository).findTenantByName(name);
  if (!tenant) throw new Error(`tenant ${name} missing`);
  return { key, keyId: id, tenantId: tenant.id };
}

/** Inserts a connection row directly (no first job). */
export async function insertConnection(
  t: TestApp,
  tenantId: string,
  createdAt: number,
  password = 'seed-password',
): Promise<string> {
  const id = uuidv7At(createdAt);
  const cipher = t.app.get(CredentialsCipher);
  await t.db.transaction((tx) =>
    t.app.get(ConnectionsRepository).insertConnection(tx, {
      id,
      tenant_id: tenantId,
      institution_id: 'sandbox',
      login_id: 'user-ok',
      credentials_enc: cipher.encrypt({ password }, { tenantId, connectionId: id }),
      user_ref: null,
      created_at: createdAt,
    }),
  );
  return id;
}

/** A job as the engine would have left it in `status`, created at `createdAt`. */
export function seededJob(connectionId: string, createdAt: number, status: JobStatus, action: JobAction, n = 0): Job {
  const base = createJob({
    id: uuidv7At(createdAt),
    connectionId,
    action,
    now: new Date(createdAt),
    requestedBy: { id: 'seed', name: 'seed' },
  });
  if (status === 'pending') return base;
  const startedAt = new Date(createdAt + 1_000);
  const finishedAt = new Date(createdAt + 4_000);
  const terminal = status !== 'processing';
  return {
    ...base,
    status,
    attempt: status === 'cancelled' ? 0 : 1,
    startedAt: status === 'cancelled' ? null : startedAt,
    finishedAt: terminal ? finishedAt : null,
    updatedAt: terminal ? finishedAt : startedAt,
    error:
      status === 'failed'
        ? jobError('institution-unavailable', `seeded failure ${n}`)
        : status === 'cancelled'
          ? jobError('cancelled', 'cancelled by seed')
          : null,
    result: status === 'success' ? { accounts: 3, transactions: n } : null,
  };
}

/** Stores jobs directly, in one transaction, through the engine's one write path. */
export async function insertJobs(
  t: TestApp,
  tenantId: string,
  jobs: readonly Job[],
  eventsOf: (job: Job) => NewJobEvent[] = () => [],
): Promise<void> {
  await t.app
    .get(JobsStore)
    .commitNow(jobs.map((job) => ({ tenantId, before: null, next: job, events: eventsOf(job) })));
}

/** Newest first, as the history and the search order jobs: (created_at DESC, id DESC). */
export function newestFirst(jobs: readonly Job[]): Job[] {
  return [...jobs].sort(
    (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
  );
}

const TERMINAL: readonly JobStatus[] = ['success', 'failed', 'cancelled', 'success', 'failed', 'success', 'cancelled'];

/**
 * `count` terminal jobs on a connection, one per `stepMs` from `start` (with a few ms of jitter so
 * times are distinct but not round), statuses and actions varied. Stored, and returned newest first.
 */
export async function seedHistory(
  t: TestApp,
  tenantId: string,
  connectionId: string,
  count: number,
  start: number,
  stepMs = 60_000,
): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < count; i++) {
    const status = TERMINAL[i % TERMINAL.length] as JobStatus;
    const action: JobAction = i % 3 === 0 ? 'purge' : 'refresh';
    jobs.push(seededJob(connectionId, start + i * stepMs + (i % 11), status, action, i));
  }
  await insertJobs(t, tenantId, jobs);
  return newestFirst(jobs);
}

/** How many accounts and transactions a connection has (what a refresh wrote, a purge deleted). */
export async function bankData(t: TestApp, connectionId: string): Promise<{ accounts: number; transactions: number }> {
  const count = async (table: 'accounts' | 'transactions') =>
    Number(
      (
        await t.db.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table} WHERE connection_id = $1`, [
          connectionId,
        ])
      )[0]?.n ?? 0,
    );
  return { accounts: await count('accounts'), transactions: await count('transactions') };
}
