import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { ApiKeysRepository } from '../../src/auth/api-keys.repository.js';
import { SealedPositions } from '../../src/common/sealed-positions.js';
import { EventTokens } from '../../src/events/event-tokens.js';
import { apiClient } from '../support/processes.js';
import { openSse, type SseClient, type SseEvent } from '../support/sse.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

/** The events of one job, in the order received. */
const of = (events: readonly SseEvent[], jobId: string) => events.filter((e) => e.job.job_id === jobId);
const succeeded = (jobId: string) => (events: readonly SseEvent[]) =>
  of(events, jobId).find((e) => e.event === 'job.updated' && e.job.status === 'success');

describe.each(kinds)('GET /api/events (Server-Sent Events) on %s', (kind) => {
  let t: TestApp;
  let base: string;
  let api: ReturnType<typeof apiClient>;
  const streams: SseClient[] = [];
  const open = async (path: string, headers: Record<string, string> = {}) => {
    const s = await openSse(`${base}${path}`, headers);
    streams.push(s);
    return s;
  };
  const asAdmin = () => ({ Authorization: `Bearer ${t.adminKey}` });

  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'all' });
    base = `http://127.0.0.1:${(t.server.address() as AddressInfo).port}/api`;
    api = apiClient(base, t.adminKey);
  });
  afterEach(() => {
    for (const s of streams.splice(0)) s.close();
  });
  afterAll(() => t.close());

  it('streams job.created, then job.updated up to success, for a new user-ok connection', async () => {
    const sse = await open('/events', asAdmin());
    expect(sse.status).toBe(200);
    expect(sse.contentType).toMatch(/^text\/event-stream/);
    const { connectionId, jobId } = await api.connect('user-ok');
    await sse.waitFor('the success event', succeeded(jobId));
    const mine = of(sse.events, jobId);
    expect(mine[0]).toMatchObject({
      event: 'job.created',
      job: { job_id: jobId, connection_id: connectionId, action: 'refresh', status: 'pending' },
    });
    expect(mine.slice(1).every((e) => e.event === 'job.updated')).toBe(true);
    const statuses = mine.map((e) => e.job.status).filter((s, i, all) => s !== all[i - 1]);
    expect(statuses).toEqual(['pending', 'processing', 'success']);
    // Event ids are the job_events positions sealed for this tenant: present, distinct, opaque,
    // and increasing once opened with the server's key.
    const positions = t.app.get(SealedPositions);
    const tenantId = (await t.app.get(ApiKeysRepository).findTenantByName('default'))!.id;
    expect(mine.every((e) => e.id !== null && !/^\d+$/.test(e.id))).toBe(true);
    const ids = mine.map((e) => positions.openEventId(tenantId, e.id!));
    expect(ids.every((id) => id !== null && id > 0)).toBe(true);
    expect([...(ids as number[])].sort((a, b) => a - b)).toEqual(ids);
  });

  it('?connection_id= streams that connection only', async () => {
    const { connectionId: a } = await api.connect('user-ok');
    const onlyA = await open(`/events?connection_id=${a}`, asAdmin());
    const all = await open('/events', asAdmin());
    const jobA = await api.action(a, 'purge');
    const { jobId: jobB } = await api.connect('user-ok');
    await all.waitFor('B to succeed', succeeded(jobB));
    await onlyA.waitFor('A purge to succeed', succeeded(jobA.jobId));
    expect(onlyA.events.length).toBeGreaterThan(0);
    expect(onlyA.events.every((e) => e.job.connection_id === a)).toBe(true);
    expect(of(all.events, jobB).length).toBeGreaterThan(0);
  });

  it("another tenant's key sees none of this tenant's jobs, only its own", async () => {
    const other = await t.createKey('admin', 'other-tenant');
    const otherSse = await open('/events', { Authorization: `Bearer ${other.key}` });
    const mineSse = await open('/events', asAdmin());
    const { jobId } = await api.connect('user-ok');
    const { jobId: theirs } = await apiClient(base, other.key).connect('user-ok');
    await mineSse.waitFor('my job to succeed', succeeded(jobId));
    await otherSse.waitFor("the other tenant's job to succeed", succeeded(theirs));
    expect(of(otherSse.events, jobId)).toEqual([]);
    expect(otherSse.events.every((e) => e.job.job_id === theirs)).toBe(true);
    expect(of(mineSse.events, theirs)).toEqual([]);
  });

  it('Last-Event-ID replays what was missed while disconnected', async () => {
    const first = await open('/events', asAdmin());
    const { connectionId, jobId } = await api.connect('user-ok');
    await first.waitFor('the first job to succeed', succeeded(jobId));
    const lastId = first.events.at(-1)!.id!;
    first.close();

    // Missed: a new connection's job and a purge, both run to success while nobody listens.
    const missed = await api.connect('user-ok');
    const purge = await api.action(connectionId, 'purge');
    for (const id of [missed.jobId, purge.jobId]) {
      const deadline = Date.now() + 20_000;
      while ((await api.call('GET', `/jobs/${id}`)).body.status !== 'success' && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
    }

    const resumed = await open('/events', { ...asAdmin(), 'Last-Event-ID': lastId });
    // A resume sends one event per changed job, carrying the job as it is now: `job.created` for
    // jobs created after the id (here already successful), `job.updated` for the others.
    const done = (id: string) => (events: readonly SseEvent[]) =>
      of(events, id).find((e) => e.job.status === 'success');
    await resumed.waitFor(
      'the missed jobs',
      (events) => (done(missed.jobId)(events) && done(purge.jobId)(events) ? true : undefined),
      10_000,
    );
    expect(of(resumed.events, jobId)).toEqual([]);
    expect(of(resumed.events, missed.jobId)).toEqual([
      expect.objectContaining({ event: 'job.created', job: expect.objectContaining({ status: 'success' }) }),
    ]);
    expect(of(resumed.events, purge.jobId)).toEqual([
      expect.objectContaining({
        event: 'job.created',
        job: expect.objectContaining({ status: 'success', action: 'purge' }),
      }),
    ]);
    // Ids are opaque (sealed per tenant): none is the one resumed from, none is a bare number.
    expect(resumed.events.every((e) => e.id !== lastId && !/^\d+$/.test(e.id ?? ''))).toBe(true);

    // Without Last-Event-ID, nothing of the past is replayed.
    const fresh = await open('/events', asAdmin());
    await new Promise((r) => setTimeout(r, 300));
    expect(of(fresh.events, missed.jobId)).toEqual([]);
  });

  it('?token= from POST /events/token opens the stream; tampered or expired tokens get 401 problem+json', async () => {
    const res = await api.call('POST', '/events/token');
    expect(res.status).toBe(201);
    const token = res.body.token as string;
    expect(Date.parse(res.body.expires_at)).toBeGreaterThan(Date.now());

    const sse = await open(`/events?token=${token}`);
    expect(sse.status).toBe(200);
    const { jobId } = await api.connect('user-ok');
    await sse.waitFor('the job to succeed through a token stream', succeeded(jobId));

    const [payload, mac] = token.split('.') as [string, string];
    const flipped = `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    const forged = Buffer.from(
      JSON.stringify({ k: JSON.parse(Buffer.from(payload, 'base64url').toString()).k, e: Date.now() + 3_600_000 }),
    ).toString('base64url');
    const { key: _unused, id: keyId } = await t.createKey('viewer');
    const expired = t.app.get(EventTokens).issue(keyId, Date.now() - 11 * 60_000).token;
    for (const bad of [`${payload}.${flipped}`, `${forged}.${mac}`, expired]) {
      const refused = await open(`/events?token=${bad}`);
      expect(refused.status).toBe(401);
      expect(refused.contentType).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(refused.body)).toMatchObject({ status: 401, code: 'unauthorized' });
    }
  });

  it('no key, or an unknown key, gets 401 problem+json', async () => {
    const cases: Array<Record<string, string>> = [{}, { Authorization: 'Bearer jt_not_a_real_key_000000000000' }];
    for (const headers of cases) {
      const refused = await open('/events', headers);
      expect(refused.status).toBe(401);
      expect(refused.contentType).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(refused.body)).toMatchObject({ status: 401, code: 'unauthorized' });
    }
  });
});
