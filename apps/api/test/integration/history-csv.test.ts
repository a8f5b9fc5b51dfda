import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { csvField } from '../../src/jobs/history-csv.js';
import { bearer, insertConnection, seedHistory, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

describe('CSV fields', () => {
  it('quotes what needs quoting and defuses spreadsheet formulas', () => {
    expect(csvField(null)).toBe('');
    expect(csvField(3)).toBe('3');
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"\nthen')).toBe('"say ""hi""\nthen"');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('-1')).toBe("'-1");
  });
});

describe.each(kinds)('history as CSV on %s', (kind) => {
  let t: TestApp;
  let auth: Record<string, string>;
  let connectionId: string;
  let newestFirstIds: string[];
  beforeAll(async () => {
    t = await startTestApp(kind);
    const k = await tenantKey(t, 'csv');
    auth = bearer(k.key);
    connectionId = await insertConnection(t, k.tenantId, Date.UTC(2024, 0, 1));
    // More than two export batches.
    newestFirstIds = (await seedHistory(t, k.tenantId, connectionId, 2_345, Date.UTC(2024, 0, 2))).map((j) => j.id);
  }, 60_000);
  afterAll(() => t.close());

  const csv = (query = '') =>
    request(t.server)
      .get(`/api/connections/${connectionId}/jobs${query}`)
      .set({ ...auth, Accept: 'text/csv' })
      .buffer(true)
      .parse((res, done) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => done(null, text));
      });

  it('streams the whole history, newest first, with a header row and no page limit', async () => {
    const res = await csv('?limit=5');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toContain(`connection-${connectionId}-jobs.csv`);
    const lines = (res.body as string).trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'job_id,connection_id,action,status,date,started_at,finished_at,attempt,max_attempts,error_code,error_detail,retry_of',
    );
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(newestFirstIds);
  });

  it('applies the filters', async () => {
    const res = await csv('?status=failed&action=refresh');
    const rows = (res.body as string).trimEnd().split('\r\n').slice(1);
    expect(rows.length).toBeGreaterThan(100);
    for (const row of rows) {
      const [, , action, status, , , , , , code] = row.split(',');
      expect([action, status, code]).toEqual(['refresh', 'failed', 'institution-unavailable']);
    }
  });

  it('answers 404 for another tenant and 400 for a bad query, as problem+json', async () => {
    const other = await tenantKey(t, 'csv-other');
    const res = await request(t.server)
      .get(`/api/connections/${connectionId}/jobs`)
      .set({ ...bearer(other.key), Accept: 'text/csv' });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    const bad = await request(t.server)
      .get(`/api/connections/${connectionId}/jobs?status=nope`)
      .set({ ...auth, Accept: 'text/csv' });
    expect(bad.status).toBe(400);
  });

  it('JSON stays the default', async () => {
    const res = await request(t.server).get(`/api/connections/${connectionId}/jobs?limit=3`).set(auth).expect(200);
    expect(res.body).toHaveLength(3);
  });
});
