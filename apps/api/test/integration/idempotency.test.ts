import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateConnectionResponseSchema } from '@jobtrail/domain';
import request from 'supertest';
import { bearer, expectProblem, fieldsOf, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

let seq = 0;
/** A key never used before in this run. */
const newKey = () => `idem-${Date.now()}-${++seq}`;

describe.each(kinds)('Idempotency-Key on %s', (kind) => {
  let t: TestApp;
  /** Each test gets its own tenant so connection counts are its own. */
  let auth: { Authorization: string };

  beforeAll(async () => {
    t = await startTestApp(kind);
  });
  afterAll(() => t.close());

  let tenantSeq = 0;
  async function freshTenant(): Promise<{ Authorization: string }> {
    auth = bearer((await tenantKey(t, `idem-tenant-${++tenantSeq}`, 'admin')).key);
    return auth;
  }

  const body = { institution_id: 'sandbox', login_id: 'user-ok', password: 'pw-1' };
  const createConnection = (key: string | null, payload: unknown = body, who = auth) => {
    const req = request(t.server).post('/api/connections').set(who);
    if (key !== null) req.set('Idempotency-Key', key);
    return req.send(payload as object);
  };
  const connectionCount = async (who = auth) =>
    ((await request(t.server).get('/api/connections?limit=200').set(who)).body as unknown[]).length;
  const jobCount = async (who = auth) =>
    ((await request(t.server).get('/api/jobs?limit=200').set(who)).body as unknown[]).length;

  it('stores a keyed fingerprint of the request, not a plain hash of a body holding a bank password', async () => {
    await freshTenant();
    const key = newKey();
    expect((await createConnection(key, { ...body, password: 'guessable-1' })).status).toBe(202);
    const [row] = await t.db.query<{ fingerprint: string }>(
      'SELECT fingerprint FROM idempotency_keys WHERE idem_key = $1',
      [key],
    );
    const plain = createHash('sha256')
      .update(
        `POST /api/connections\n${JSON.stringify({ institution_id: 'sandbox', login_id: 'user-ok', password: 'guessable-1' })}`,
      )
      .digest('hex');
    expect(row?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.fingerprint).not.toBe(plain);
  });

  it('the same key with the same body replays the first response and creates nothing more', async () => {
    await freshTenant();
    const key = newKey();
    const first = await createConnection(key);
    expect(first.status).toBe(202);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const created = CreateConnectionResponseSchema.parse(first.body);

    const again = await createConnection(key);
    expect(again.status).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['content-type']).toMatch(/^application\/json/);
    expect(again.body).toEqual(first.body);
    expect(again.text).toBe(first.text);

    // Key order does not make another body.
    const reordered = await createConnection(key, { password: 'pw-1', login_id: 'user-ok', institution_id: 'sandbox' });
    expect(reordered.status).toBe(202);
    expect(reordered.body).toEqual(first.body);

    expect(await connectionCount()).toBe(1);
    expect(await jobCount()).toBe(1);
    // Without a key, the same body is a new request.
    const unkeyed = await createConnection(null);
    expect(unkeyed.status).toBe(202);
    expect(unkeyed.body.connection.connection_id).not.toBe(created.connection.connection_id);
    expect(await connectionCount()).toBe(2);
  });

  it('replays the first status of an action (202) even though a new request would get 200', async () => {
    await freshTenant();
    const conn = CreateConnectionResponseSchema.parse((await createConnection(null)).body);
    expect((await request(t.server).post(`/api/jobs/${conn.job.job_id}/cancel`).set(auth)).status).toBe(200);
    const key = newKey();
    const path = `/api/connections/${conn.connection.connection_id}/refresh`;
    const first = await request(t.server).post(path).set(auth).set('Idempotency-Key', key);
    expect(first.status).toBe(202);
    const plain = await request(t.server).post(path).set(auth);
    expect(plain.status).toBe(200);
    expect(plain.body.job_id).toBe(first.body.job_id);
    // An empty body and `{}` are the same request.
    const replay = await request(t.server).post(path).set(auth).set('Idempotency-Key', key).send({});
    expect(replay.status).toBe(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    const jobs = (await request(t.server).get(`/api/connections/${conn.connection.connection_id}/jobs`).set(auth))
      .body as unknown[];
    expect(jobs).toHaveLength(2);
  });

  it('the same key with another body, or on another endpoint, is a 422 idempotency-key-reused', async () => {
    await freshTenant();
    const key = newKey();
    const first = await createConnection(key);
    expect(first.status).toBe(202);
    const other = await createConnection(key, { ...body, login_id: 'user-flaky' });
    const problem = expectProblem(other, 422, 'idempotency-key-reused');
    expect(problem.instance).toBe('/api/connections');
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    const otherPassword = await createConnection(key, { ...body, password: 'pw-2' });
    expectProblem(otherPassword, 422, 'idempotency-key-reused');

    const connectionId = first.body.connection.connection_id as string;
    const elsewhere = await request(t.server)
      .post(`/api/connections/${connectionId}/purge`)
      .set(auth)
      .set('Idempotency-Key', key);
    expectProblem(elsewhere, 422, 'idempotency-key-reused');
    expect(await connectionCount()).toBe(1);
    expect(await jobCount()).toBe(1);
    // The first answer is still replayed.
    const replay = await createConnection(key);
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.body);
  });

  it('keys belong to a tenant: another tenant may use the same key for its own request', async () => {
    const a = await freshTenant();
    const b = bearer((await tenantKey(t, `idem-other-${Date.now()}`, 'operator')).key);
    const key = newKey();
    const first = await createConnection(key, body, a);
    expect(first.status).toBe(202);
    const fromB = await createConnection(key, body, b);
    expect(fromB.status).toBe(202);
    expect(fromB.headers['idempotent-replayed']).toBeUndefined();
    expect(fromB.body.connection.connection_id).not.toBe(first.body.connection.connection_id);
    // B's request with another body is B's own first use: no 422 from A's use.
    const keyB = newKey();
    expect((await createConnection(keyB, body, a)).status).toBe(202);
    expect((await createConnection(keyB, { ...body, login_id: 'user-slow' }, b)).status).toBe(202);
    // B's replay is B's answer.
    const replayB = await createConnection(key, body, b);
    expect(replayB.headers['idempotent-replayed']).toBe('true');
    expect(replayB.body).toEqual(fromB.body);
    expect(await connectionCount(a)).toBe(2);
    expect(await connectionCount(b)).toBe(2);
  });

  it('a failed request does not use up its key', async () => {
    await freshTenant();
    const key = newKey();
    const invalid = await createConnection(key, { ...body, extra: 1 });
    expect(fieldsOf(expectProblem(invalid, 400, 'validation-failed'))).toEqual(['body.extra']);
    // The same failing request fails the same way (it is not replayed as if it had succeeded).
    expectProblem(await createConnection(key, { ...body, extra: 1 }), 400, 'validation-failed');
    const unknownInstitution = await createConnection(key, { ...body, institution_id: 'nope' });
    expectProblem(unknownInstitution, 400, 'validation-failed');
    // Then the key serves a good request, which is then replayed.
    const ok = await createConnection(key);
    expect(ok.status).toBe(202);
    expect(ok.headers['idempotent-replayed']).toBeUndefined();
    const replay = await createConnection(key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(ok.body);
    expect(await connectionCount()).toBe(1);

    // A 404 does not use it up either.
    const key2 = newKey();
    const missing = await request(t.server)
      .post('/api/connections/0190a5c4-0000-7000-8000-000000000000/refresh')
      .set(auth)
      .set('Idempotency-Key', key2);
    expectProblem(missing, 404, 'not-found');
    const conn = ok.body.connection.connection_id as string;
    const purge = await request(t.server).post(`/api/connections/${conn}/purge`).set(auth).set('Idempotency-Key', key2);
    expect(purge.status).toBe(202);
  });

  it('concurrent requests with one key run the work once', async () => {
    await freshTenant();
    const key = newKey();
    const responses = await Promise.all(Array.from({ length: 10 }, () => createConnection(key)));
    const ok = responses.filter((r) => r.status === 202);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((r) => r.body.connection.connection_id as string)).size).toBe(1);
    for (const r of responses.filter((x) => x.status !== 202)) expectProblem(r, 409, 'idempotency-key-in-flight');
    expect(await connectionCount()).toBe(1);
    const replay = await createConnection(key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(ok[0]!.body);
  });

  it('refuses a malformed Idempotency-Key with 400', async () => {
    await freshTenant();
    const tooLong = await createConnection('k'.repeat(256));
    expect(fieldsOf(expectProblem(tooLong, 400, 'validation-failed'))).toEqual(['header.idempotency-key']);
    expectProblem(await createConnection('with space'), 400, 'validation-failed');
    expect(await connectionCount()).toBe(0);
    expect((await createConnection('k'.repeat(255))).status).toBe(202);
  });
});
