import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiKeysRepository } from '../../src/auth/api-keys.repository.js';
import { SealedPositions } from '../../src/common/sealed-positions.js';
import { EventsController } from '../../src/events/events.controller.js';
import { tenantKey } from '../support/api-helpers.js';
import { apiClient } from '../support/processes.js';
import { openSse, type SseClient } from '../support/sse.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();

/**
 * Faults of live streams (issue 10, item 3): revoked keys and expired tokens keep streaming,
 * streams are uncapped and unlimited, and a client gone during authentication leaks its stream.
 */
describe.each(kinds)('GET /api/events under hostile and departed clients on %s', (kind) => {
  let t: TestApp;
  let base: string;
  let port: number;
  const streams: SseClient[] = [];
  const open = async (path: string, headers: Record<string, string> = {}) => {
    const s = await openSse(`${base}${path}`, headers);
    streams.push(s);
    return s;
  };
  const stats = () => t.app.get(EventsController).streamStats;
  const noStreams = () =>
    waitFor(
      'every stream to be released',
      async () => (Object.values(stats()).every((n) => n === 0) ? true : undefined),
      10_000,
    );

  beforeAll(async () => {
    t = await startTestApp(kind, {
      role: 'all',
      streams: { perKey: 3, replayLimit: 4, maxBufferBytes: 1024 * 1024, tokenTtlMs: 1_000, reauthMs: 500 },
    });
    port = (t.server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}/api`;
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await noStreams();
  });
  afterAll(() => t.close());

  it('resumes a client behind by more than a replay carries with event: reset, then streams on', async () => {
    const client = apiClient(base, t.adminKey);
    const live = await open('/events', { Authorization: `Bearer ${t.adminKey}` });
    const first = await client.connect('user-ok');
    const seen = await live.waitFor('an event of the first job', (events) =>
      events.find((e) => e.job.job_id === first.jobId && e.id !== null),
    );
    live.close();
    // Far more than 4 events happen while the client is away (each refresh records several).
    for (let i = 0; i < 3; i++) await client.connect('user-ok');
    const resumed = await open('/events', { Authorization: `Bearer ${t.adminKey}`, 'Last-Event-ID': seen.id! });
    expect(resumed.status).toBe(200);
    await resumed.waitFor('the reset event', (events) => events.find((e) => e.event === 'reset'));
    // Ids are sealed per tenant: the server's own key opens them to compare positions.
    const positions = t.app.get(SealedPositions);
    const tenantId = (await t.app.get(ApiKeysRepository).findTenantByName('default'))!.id;
    const position = (id: string | null) => positions.openEventId(tenantId, id ?? '') ?? Number.NaN;
    expect(resumed.events.filter((e) => e.event !== 'reset').every((e) => position(e.id) > position(seen.id))).toBe(
      true,
    );
    // Live changes still flow after the reset.
    const next = await client.connect('user-ok');
    await resumed.waitFor('a live event after the reset', (events) => events.find((e) => e.job.job_id === next.jobId));
  });

  it('gives a new stream its position first: a client gone before any event resumes from there, missing nothing', async () => {
    const asAdmin = { Authorization: `Bearer ${t.adminKey}` };
    const first = await open('/events', asAdmin);
    // An id-only block: a position, not an event (EventSource takes it as its Last-Event-ID).
    const start = await first.waitFor('the stream position', () => first.lastEventId ?? undefined);
    expect(first.events).toEqual([]);
    first.close();
    // Changes made while the client is away, before it ever received an event.
    const { jobId } = await apiClient(base, t.adminKey).connect('user-ok');
    const resumed = await open('/events', { ...asAdmin, 'Last-Event-ID': start });
    expect(resumed.status).toBe(200);
    await resumed.waitFor('the change made while away', (events) => events.find((e) => e.job.job_id === jobId));
    expect(resumed.events.some((e) => e.event === 'reset')).toBe(false);
  });

  it('tells a client following a connection that it was deleted (connection.deleted), and only its own tenant', async () => {
    const client = apiClient(base, t.adminKey);
    const { connectionId } = await client.connect('user-ok');
    const following = await open(`/events?connection_id=${connectionId}`, { Authorization: `Bearer ${t.adminKey}` });
    const other = await t.createKey('admin', 'other-tenant-of-streams');
    const stranger = await open('/events', { Authorization: `Bearer ${other.key}` });
    expect((await client.call('DELETE', `/connections/${connectionId}`)).status).toBe(204);
    const deleted = await following.waitFor('the deletion', (events) =>
      events.find((e) => e.event === 'connection.deleted'),
    );
    expect(JSON.parse(deleted.data)).toEqual({ connection_id: connectionId });
    await sleep(300);
    expect(stranger.events.filter((e) => e.event === 'connection.deleted')).toEqual([]);
  });

  it("seals event ids and log positions per tenant: B's activity shows nowhere in A's ids, B's ids do not open for A", async () => {
    const b = await tenantKey(t, `sealed-${kind}`, 'operator');
    const asA = { Authorization: `Bearer ${t.adminKey}` };
    const asB = { Authorization: `Bearer ${b.key}` };
    const streamA = await open('/events', asA);
    const streamB = await open('/events', asB);
    const a1 = await apiClient(base, t.adminKey).connect('user-ok');
    const lastOf = (s: SseClient, jobId: string) =>
      s.waitFor(`a success event of ${jobId}`, (events) =>
        events.find((e) => e.job.job_id === jobId && e.job.status === 'success' && e.id !== null),
      );
    const before = await lastOf(streamA, a1.jobId);
    // Tenant B is busy in between: its events and log lines take positions in the shared sequences.
    const clientB = apiClient(base, b.key);
    const bJobs = [await clientB.connect('user-ok'), await clientB.connect('user-ok')];
    for (const j of bJobs) await lastOf(streamB, j.jobId);
    const a2 = await apiClient(base, t.adminKey).connect('user-ok');
    const after = await lastOf(streamA, a2.jobId);

    // A's ids are opaque, distinct, and carry no number to subtract (before: 17 then 42).
    const idsA = streamA.events.map((e) => e.id).filter((id): id is string => id !== null);
    expect(idsA.length).toBeGreaterThan(2);
    for (const id of idsA) expect(id).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(idsA.some((id) => /^\d+$/.test(id))).toBe(false);
    expect(new Set(idsA).size).toBe(idsA.length);
    expect(before.id).not.toBe(after.id);

    // A token of tenant B is not one of A's: refused like a malformed id, header and query alike.
    const idB = streamB.events.find((e) => e.id !== null)!.id!;
    const foreign = await open('/events', { ...asA, 'Last-Event-ID': idB });
    expect(foreign.status).toBe(400);
    expect(JSON.parse(foreign.body)).toMatchObject({ code: 'validation-failed' });
    expect((await open(`/events?last_event_id=${idB}`, asA)).status).toBe(400);
    // A's own id opens a resumed stream (this suite's replay limit is 4: past it, a reset), and
    // nothing of B comes through it.
    const resumed = await open('/events', { ...asA, 'Last-Event-ID': before.id! });
    expect(resumed.status).toBe(200);
    await resumed.waitFor('the replay or its reset', (events) =>
      events.find((e) => e.event === 'reset' || e.job.job_id === a2.jobId),
    );
    expect(resumed.events.some((e) => bJobs.some((j) => j.jobId === e.job.job_id))).toBe(false);

    // Log lines: numbered within their job from 1 whatever B wrote meanwhile; the cursor is sealed
    // for this tenant and job.
    const logs = async (jobId: string, query = '') => {
      const res = await fetch(`${base}/jobs/${jobId}/logs${query}`, { headers: asA });
      return { status: res.status, link: res.headers.get('link'), body: (await res.json()) as { seq: number }[] };
    };
    const all = await logs(a2.jobId);
    expect(all.status).toBe(200);
    expect(all.body.length).toBeGreaterThan(1);
    expect(all.body.map((l) => l.seq)).toEqual(all.body.map((_, i) => i + 1));
    const page1 = await logs(a2.jobId, '?limit=1');
    const cursor = new URL(page1.link!.slice(1, page1.link!.indexOf('>')), 'http://x').searchParams.get('cursor')!;
    expect(cursor).not.toMatch(/^\d+$/);
    const page2 = await logs(a2.jobId, `?limit=1&cursor=${cursor}`);
    expect(page2.body.map((l) => l.seq)).toEqual([2]);
    // The cursor of one job is refused on another.
    expect((await logs(a1.jobId, `?limit=1&cursor=${cursor}`)).status).toBe(400);
  });

  it('answers a malformed Last-Event-ID header with 400, like the query form', async () => {
    for (const bad of ['abc', '-1', '1e3', '0x10']) {
      const res = await openSse(`${base}/events`, { Authorization: `Bearer ${t.adminKey}`, 'Last-Event-ID': bad });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'validation-failed' });
    }
  });

  it("closes a revoked key's open stream within 5 s, and it received the tenant's events until then", async () => {
    const { key, id } = await t.createKey('operator');
    const sse = await open('/events', { Authorization: `Bearer ${key}` });
    expect(sse.status).toBe(200);
    const { jobId } = await apiClient(base, t.adminKey).connect('user-ok');
    await sse.waitFor('an event of the new job', (events) => events.find((e) => e.job.job_id === jobId));
    const revokedAt = Date.now();
    expect(await t.app.get(ApiKeysRepository).revokeKey(id)).toBe(true);
    await waitFor('the stream to be closed', async () => (sse.ended ? true : undefined), 5_000, 20);
    const closedAfterMs = Date.now() - revokedAt;
    expect(closedAfterMs).toBeLessThan(5_000);
    // Reconnecting with the revoked key is refused.
    expect((await openSse(`${base}/events`, { Authorization: `Bearer ${key}` })).status).toBe(401);
  });

  it('closes a stream opened with ?token= within 5 s of the token expiring', async () => {
    const res = await fetch(`${base}/events/token`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.adminKey}` },
    });
    expect(res.status).toBe(201);
    const { token, expires_at } = (await res.json()) as { token: string; expires_at: string };
    const sse = await open(`/events?token=${token}`);
    expect(sse.status).toBe(200);
    await waitFor('the stream to be closed', async () => (sse.ended ? true : undefined), 7_000, 20);
    const lateMs = Date.now() - Date.parse(expires_at);
    expect(lateMs).toBeGreaterThan(-100);
    expect(lateMs).toBeLessThan(5_000);
    expect((await openSse(`${base}/events?token=${token}`)).status).toBe(401);
  });

  it('refuses a key more streams than the cap with 429 and Retry-After; other keys and closed slots are unaffected', async () => {
    const auth = { Authorization: `Bearer ${t.adminKey}` };
    const first = [await open('/events', auth), await open('/events', auth), await open('/events', auth)];
    expect(first.map((s) => s.status)).toEqual([200, 200, 200]);
    const refused = await fetch(`${base}/events`, { headers: auth });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ status: 429, code: 'rate-limited' });
    // A token of the same key counts against the same cap.
    const { token } = (await (await fetch(`${base}/events/token`, { method: 'POST', headers: auth })).json()) as {
      token: string;
    };
    expect((await open(`/events?token=${token}`)).status).toBe(429);
    const other = await t.createKey('viewer');
    expect((await open('/events', { Authorization: `Bearer ${other.key}` })).status).toBe(200);
    first[0]!.close();
    await waitFor('the slot to be released', async () => (stats().streams === 3 ? true : undefined), 5_000);
    expect((await open('/events', auth)).status).toBe(200);
  });

  it('leaves no stream, subscription or heartbeat behind after 1,000 connect-and-reset cycles', async () => {
    const request = `GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.adminKey}\r\nAccept: text/event-stream\r\n\r\n`;
    const cycle = (i: number) =>
      new Promise<void>((resolve) => {
        const socket: Socket = connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
        socket.on('connect', () => {
          socket.write(request);
          // Reset at varying moments: before, during and after the stream is authenticated.
          setTimeout(() => socket.resetAndDestroy(), i % 7);
        });
      });
    for (let i = 0; i < 1_000; i += 25) await Promise.all(Array.from({ length: 25 }, (_, j) => cycle(i + j)));
    await noStreams();
    expect(stats()).toEqual({ streams: 0, subscriptions: 0, heartbeats: 0, keys: 0 });
    // The key's slots are all free again: a normal stream still opens.
    expect((await open('/events', { Authorization: `Bearer ${t.adminKey}` })).status).toBe(200);
  });
});

describe('GET /api/events is counted by the per-key rate limit', () => {
  let t: TestApp;
  afterAll(() => t?.close());

  it('answers 429 rate-limited once the key used up its requests, streams included', async () => {
    t = await startTestApp('sqlite', { limits: { requestsPerMinute: 4, refreshesPerHour: 1_000 } });
    const base = `http://127.0.0.1:${(t.server.address() as AddressInfo).port}/api`;
    const auth = { Authorization: `Bearer ${t.adminKey}` };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await openSse(`${base}/events`, auth);
      statuses.push(s.status);
      if (s.status === 429) expect(JSON.parse(s.body)).toMatchObject({ code: 'rate-limited' });
      s.close();
      await sleep(20);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
  });
});
