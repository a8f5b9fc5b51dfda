import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateConnectionResponseSchema } from '@jobtrail/domain';
import request from 'supertest';
import { CredentialsCipher } from '../../src/connections/credentials-cipher.js';
import { bearer, expectNoLeak, probe } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

const PASSWORD = 'canary-P4ssw0rd-7c1e';

describe.each(kinds)('credentials and keys stay secret on %s', (kind) => {
  let t: TestApp;
  let apiKey: string;
  /** Every response seen, as text: status line, headers and body. */
  const seen: string[] = [];

  beforeAll(async () => {
    t = await startTestApp(kind);
    apiKey = (await t.createKey('operator')).key;
  });
  afterAll(() => t.close());

  const record = (res: request.Response) => {
    seen.push(`${res.status} ${JSON.stringify(res.headers)}\n${res.text}`);
    return res;
  };
  const auth = () => bearer(apiKey);

  let connectionId: string;
  let jobId: string;
  let eventToken = '';

  it('goes through creating, reading, refreshing and listing a connection', async () => {
    const created = record(
      await request(t.server)
        .post('/api/connections')
        .set(auth())
        .set('Idempotency-Key', 'secret-flow-1')
        .send({ institution_id: 'sandbox', login_id: 'user-ok', password: PASSWORD, user_ref: 'customer-1' }),
    );
    expect(created.status).toBe(202);
    const body = CreateConnectionResponseSchema.parse(created.body);
    connectionId = body.connection.connection_id;
    jobId = body.job.job_id;
    // Replayed answer, reads, actions, lists.
    record(
      await request(t.server)
        .post('/api/connections')
        .set(auth())
        .set('Idempotency-Key', 'secret-flow-1')
        .send({ institution_id: 'sandbox', login_id: 'user-ok', password: PASSWORD, user_ref: 'customer-1' }),
    );
    for (const path of [
      `/api/connections/${connectionId}`,
      '/api/connections',
      `/api/connections/${connectionId}/jobs`,
      `/api/jobs/${jobId}`,
      `/api/jobs/${jobId}/logs`,
      '/api/jobs',
      '/api/me',
    ]) {
      expect(record(await request(t.server).get(path).set(auth())).status).toBe(200);
    }
    expect(record(await request(t.server).post(`/api/connections/${connectionId}/refresh`).set(auth())).status).toBe(
      200,
    );
    expect(record(await request(t.server).post(`/api/jobs/${jobId}/cancel`).set(auth())).status).toBe(200);
    expect(record(await request(t.server).post(`/api/jobs/${jobId}/retry`).set(auth())).status).toBe(202);
    expect(record(await request(t.server).post(`/api/connections/${connectionId}/purge`).set(auth())).status).toBe(202);
    // The event stream, with the key and with a token in the query (which is a credential too).
    const token = record(await request(t.server).post('/api/events/token').set(auth()));
    expect(token.status).toBe(201);
    eventToken = token.body.token as string;
    expect((await probe(t.server, 'get', '/api/events', auth())).status).toBe(200);
    expect((await probe(t.server, 'get', `/api/events?token=${eventToken}&connection_id=${connectionId}`)).status).toBe(
      200,
    );
    const badToken = await probe(t.server, 'get', `/api/events?token=${eventToken}x`);
    expect(badToken.status).toBe(401);
    seen.push(`${badToken.status} ${JSON.stringify(badToken.headers)}\n${badToken.text}`);
  });

  it('goes through failures that carry the password or the key', async () => {
    const valid = { institution_id: 'sandbox', login_id: 'user-ok', password: PASSWORD };
    const failures = [
      // Unknown or invalid fields whose values are the secrets.
      request(t.server)
        .post('/api/connections')
        .set(auth())
        .send({ ...valid, pwd: PASSWORD, api_key: apiKey }),
      request(t.server)
        .post('/api/connections')
        .set(auth())
        .send({ ...valid, institution_id: PASSWORD }),
      request(t.server)
        .post('/api/connections')
        .set(auth())
        .send({ ...valid, institution_id: 'unknown-bank' }),
      request(t.server)
        .post('/api/connections')
        .set(auth())
        .send({ ...valid, login_id: 42 }),
      request(t.server)
        .post('/api/connections')
        .set(auth())
        .send({ ...valid, password: `${PASSWORD}${'x'.repeat(300)}` }),
      request(t.server)
        .post('/api/connections')
        .set(auth())
        .send({ ...valid, user_ref: `${PASSWORD}\u0000` }),
      request(t.server).post(`/api/connections/${connectionId}/refresh`).set(auth()).send({ password: PASSWORD }),
      // Malformed JSON and non-JSON bodies with the password inside.
      request(t.server)
        .post('/api/connections')
        .set(auth())
        .set('Content-Type', 'application/json')
        .send(`{"password":"${PASSWORD}",`),
      request(t.server)
        .post('/api/connections')
        .set(auth())
        .set('Content-Type', 'text/plain')
        .send(`password=${PASSWORD}`),
      request(t.server)
        .post('/api/connections')
        .set(auth())
        .send({ ...valid, user_ref: `${PASSWORD}${'y'.repeat(17_000)}` }),
      // In query strings.
      request(t.server).get(`/api/connections?password=${PASSWORD}&api_key=${apiKey}`).set(auth()),
      request(t.server).get(`/api/connections/${connectionId}/jobs?status=${PASSWORD}&cursor=${PASSWORD}`).set(auth()),
      request(t.server).get(`/api/connections/${connectionId}/jobs?limit=${PASSWORD}&from=${PASSWORD}`).set(auth()),
      request(t.server).get(`/api/jobs?job_id=${PASSWORD}&action=${apiKey}`).set(auth()),
      request(t.server)
        .get(`/api/connections?cursor=${Buffer.from(JSON.stringify([1, PASSWORD])).toString('base64url')}`)
        .set(auth()),
      // The key sent wrongly, or to a route that refuses it.
      request(t.server).get('/api/connections').set('Authorization', apiKey),
      request(t.server).get('/api/connections').set('Authorization', `Bearer ${apiKey}x`),
      request(t.server).get('/api/connections').set('Authorization', `Basic ${apiKey}`),
      request(t.server).get(`/api/connections?key=${apiKey}`),
      request(t.server).delete(`/api/connections/${connectionId}`).set(auth()),
      // An idempotency key reused with another password.
      request(t.server)
        .post('/api/connections')
        .set(auth())
        .set('Idempotency-Key', 'secret-flow-1')
        .send({ ...valid, password: `${PASSWORD}-2` }),
      request(t.server)
        .post('/api/connections')
        .set(auth())
        .set('Idempotency-Key', PASSWORD)
        .send({ ...valid, extra: 1 }),
    ];
    for (const pending of failures) {
      const res = record(await pending);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expectNoLeak(res);
    }
  });

  it('never returns the password or the key in a body or a header', () => {
    expect(seen.length).toBeGreaterThan(30);
    const leaks = seen.filter((text) => text.includes(PASSWORD) || text.includes(apiKey));
    expect(leaks).toEqual([]);
  });

  it('never writes the password, the key or an event token to the log', () => {
    expect(t.logs.length).toBeGreaterThan(30);
    expect(eventToken.length).toBeGreaterThan(10);
    const leaks = t.logs.filter(
      (line) => line.includes(PASSWORD) || line.includes(apiKey) || line.includes(eventToken),
    );
    expect(leaks).toEqual([]);
  });

  it('stores the password only encrypted, and the key only hashed', async () => {
    const rows = await t.db.query<{ credentials_enc: string; tenant_id: string }>(
      'SELECT credentials_enc, tenant_id FROM connections WHERE id = $1',
      [connectionId],
    );
    expect(rows).toHaveLength(1);
    const stored = rows[0]!.credentials_enc;
    expect(stored).not.toContain(PASSWORD);
    expect(stored).not.toContain(Buffer.from(PASSWORD).toString('base64'));
    expect(stored).not.toContain(Buffer.from(PASSWORD).toString('base64url'));
    // v2 since issue 10 (item 9): bound to its tenant and connection as associated data.
    expect(stored).toMatch(/^v2\./);
    // It is the password, encrypted with the configured key.
    expect(
      t.app.get(CredentialsCipher).decrypt(stored, { tenantId: rows[0]!.tenant_id, connectionId: connectionId }),
    ).toEqual({ password: PASSWORD });
    // Two encryptions of one password differ (random IV).
    const again = await t.db.query<{ credentials_enc: string }>(
      'SELECT credentials_enc FROM connections WHERE login_id = $1',
      ['user-ok'],
    );
    expect(new Set(again.map((r) => r.credentials_enc)).size).toBe(again.length);

    // No table holds either secret in clear.
    for (const table of ['tenants', 'api_keys', 'connections', 'jobs', 'job_events', 'idempotency_keys']) {
      const all = JSON.stringify(await t.db.query(`SELECT * FROM ${table}`));
      expect({ table, password: all.includes(PASSWORD), key: all.includes(apiKey) }).toEqual({
        table,
        password: false,
        key: false,
      });
    }
  });
});
