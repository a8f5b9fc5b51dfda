import { expect } from '@jest/globals';
import type { ConnectionWire, JobSummaryWire } from '@jobtrail/domain';
import type { Locator } from 'playwright-core';
import type { RunningApi } from './api-server.js';

/** Long enough for the worker to run a sandbox job on a loaded machine. */
export const WORKER_WAIT_MS = 30_000;

/** Polls until `read()` satisfies `ok`; fails with what was last seen. */
export async function until<T>(
  what: string,
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  timeout = WORKER_WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeout} ms waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The text of the first match, whitespace folded ('' when nothing matches yet). */
export const textOf = (locator: Locator) => async () =>
  (await locator.count()) > 0 ? ((await locator.first().textContent()) ?? '').replace(/\s+/g, ' ').trim() : '';

/** A sandbox connection made through the API (202), with its first refresh. */
export async function createConnection(
  api: RunningApi,
  login: string,
  ref: string,
): Promise<{ connection: ConnectionWire; job: JobSummaryWire }> {
  const res = await api.call<{ connection: ConnectionWire; job: JobSummaryWire }>('POST', '/connections', {
    institution_id: 'sandbox',
    login_id: login,
    password: 'secret',
    user_ref: ref,
  });
  expect(res.status).toBe(202);
  return res.body;
}
