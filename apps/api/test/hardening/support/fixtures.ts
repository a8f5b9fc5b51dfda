import type { Server } from 'node:http';
import { send } from './http.js';

/** A connection whose first refresh was cancelled (so it can be retried) and with a pending purge. */
export interface Fixture {
  readonly connectionId: string;
  /** The first refresh job, cancelled: retry answers 202. */
  readonly cancelledJobId: string;
  /** A purge job, pending (no worker runs in role `api`): cancel answers 200. */
  readonly pendingJobId: string;
}

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** POSTs JSON and returns the parsed answer, failing on an unexpected status. */
export async function postJson<T = Record<string, unknown>>(
  server: Server,
  key: string,
  path: string,
  body: unknown,
  expected: number,
): Promise<T> {
  const res = await send(server, {
    method: 'POST',
    path,
    headers: { ...bearer(key), 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status !== expected) throw new Error(`POST ${path}: expected ${expected}, got ${res.status} ${res.text}`);
  return JSON.parse(res.text) as T;
}

/** Creates a {@link Fixture} through the API with `key` (operator or admin) of its tenant. */
export async function createFixture(
  server: Server,
  key: string,
  loginId = 'user-ok',
  password = 'fixture-password',
): Promise<Fixture> {
  const created = await postJson<{ connection: { connection_id: string }; job: { job_id: string } }>(
    server,
    key,
    '/api/connections',
    { institution_id: 'sandbox', login_id: loginId, password },
    202,
  );
  const connectionId = created.connection.connection_id;
  const cancelledJobId = created.job.job_id;
  await postJson(server, key, `/api/jobs/${cancelledJobId}/cancel`, undefined, 200);
  const purge = await postJson<{ job_id: string }>(
    server,
    key,
    `/api/connections/${connectionId}/purge`,
    undefined,
    202,
  );
  return { connectionId, cancelledJobId, pendingJobId: purge.job_id };
}

/** The jobs of a connection as `[job_id, status]`, newest first, or 'gone' when it does not exist. */
export async function jobStates(server: Server, key: string, connectionId: string): Promise<string[][] | 'gone'> {
  const res = await send(server, {
    method: 'GET',
    path: `/api/connections/${connectionId}/jobs?limit=200`,
    headers: bearer(key),
  });
  if (res.status === 404) return 'gone';
  if (res.status !== 200) throw new Error(`history of ${connectionId}: ${res.status} ${res.text}`);
  return (JSON.parse(res.text) as { job_id: string; status: string }[]).map((j) => [j.job_id, j.status]);
}
