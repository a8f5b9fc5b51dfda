// The OpenAPI conformance check every integration suite runs through test-app.ts (issue 14) must
// itself be able to fail: wrong statuses, types, bodies and headers are each reported, and a suite
// whose app sent one fails in close().
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import {
  OpenApiConformance,
  fetchServedDocument,
  recordResponses,
  type RecordedResponse,
} from '../support/openapi-conformance.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const JOB_ID = '01939a4e-7b2c-7000-8000-000000000001';

function response(
  over: Partial<RecordedResponse> & Pick<RecordedResponse, 'method' | 'url' | 'status'>,
): RecordedResponse {
  return { headers: {}, body: null, ...over };
}
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('OpenAPI conformance check', () => {
  let t: TestApp;
  let checker: OpenApiConformance;
  let who: RecordedResponse;

  beforeAll(async () => {
    t = await startTestApp('sqlite');
    const { port } = t.server.address() as AddressInfo;
    checker = new OpenApiConformance(await fetchServedDocument(`http://127.0.0.1:${port}`));
    await request(t.server).get('/api/me').set('Authorization', `Bearer ${t.adminKey}`).expect(200);
    who = t.responses.find((r) => r.url === '/api/me')!;
  });
  afterAll(async () => {
    // The deliberately wrong records pushed by the last test must not fail this suite's own close.
    t.responses.length = 0;
    await t.close();
  });

  it('accepts a real answer of the app', () => {
    expect(who.status).toBe(200);
    expect(who.headers['ratelimit-limit']).toBeDefined();
    expect(checker.check(who)).toEqual([]);
  });

  it('reports an undocumented status, content type and body', () => {
    expect(checker.check({ ...who, status: 418 }).join('\n')).toMatch(/status 418 is not documented/);
    expect(checker.check({ ...who, headers: { ...who.headers, 'content-type': 'text/html' } }).join('\n')).toMatch(
      /content type "text\/html" is not documented/,
    );
    const bad = checker.check({ ...who, body: json({ tenant: 'default', role: 'superuser' }) }).join('\n');
    expect(bad).toMatch(/body does not match the schema/);
    expect(bad).toMatch(/role|required/);
    expect(checker.check({ ...who, body: Buffer.from('{not json') }).join('\n')).toMatch(/is not JSON/);
  });

  it('reports a job whose fields break the schema (format, enum, missing field)', () => {
    const found = checker.check(
      response({
        method: 'GET',
        url: `/api/jobs/${JOB_ID}`,
        status: 200,
        headers: { 'content-type': 'application/json', 'ratelimit-limit': '600', 'ratelimit-remaining': '599' },
        body: json({ job_id: 'not-a-uuid', status: 'exploded' }),
      }),
    );
    expect(found.join('\n')).toMatch(/body does not match the schema/);
  });

  it('reports a missing required header and an undocumented one', () => {
    const noLocation = checker.check(
      response({
        method: 'POST',
        url: `/api/jobs/${JOB_ID}/retry`,
        status: 202,
        headers: { 'ratelimit-limit': '600', 'ratelimit-remaining': '599' },
      }),
    );
    expect(noLocation.join('\n')).toMatch(/required header location is missing/);
    const extra = checker.check({
      ...who,
      headers: { ...who.headers, 'retry-after': '3', link: '</api/me>; rel="next"' },
    });
    expect(extra.join('\n')).toMatch(/header retry-after is sent but not documented/);
    expect(extra.join('\n')).toMatch(/header link is sent but not documented/);
    const noLimit = checker.check(
      response({
        method: 'GET',
        url: '/api/connections',
        status: 429,
        headers: { 'content-type': 'application/problem+json' },
      }),
    );
    expect(noLimit.join('\n')).toMatch(/required header retry-after is missing/);
    expect(noLimit.join('\n')).toMatch(/required header ratelimit-limit is missing/);
    const badValue = checker.check({ ...who, headers: { ...who.headers, 'ratelimit-remaining': 'plenty' } });
    expect(badValue.join('\n')).toMatch(/header ratelimit-remaining: "plenty" does not match/);
  });

  it('ignores what the document does not describe (the docs, unknown routes)', () => {
    expect(checker.check(response({ method: 'GET', url: '/api/docs/openapi.json', status: 200 }))).toEqual([]);
    expect(checker.check(response({ method: 'PUT', url: '/api/me', status: 404 }))).toEqual([]);
  });

  it('records what a server actually sent and finds what is wrong with it', async () => {
    // A stand-in server answering a documented route wrongly: 200 with text and a stray Retry-After.
    const server: Server = createServer((_req, res) => {
      res.setHeader('Retry-After', '1');
      res.setHeader('Content-Type', 'text/plain');
      res.end('hello');
    });
    const records = recordResponses(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await (await fetch(`http://127.0.0.1:${port}/api/me`)).text();
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(records).toHaveLength(1);
    expect(records[0]!.body?.toString()).toBe('hello');
    const found = checker.checkAll(records).join('\n');
    expect(found).toMatch(/header retry-after is sent but not documented/);
    expect(found).toMatch(/content type "text\/plain" is not documented/);
    expect(found).toMatch(/required header ratelimit-limit is missing/);
  });

  it('fails the suite in close() when the app sent a response the document does not allow', async () => {
    const other = await startTestApp('sqlite');
    await request(other.server).get('/api/me').set('Authorization', `Bearer ${other.adminKey}`).expect(200);
    const sent = other.responses.find((r) => r.url === '/api/me')!;
    // As if the route had answered a status it does not document.
    other.responses.push({ ...sent, status: 418 });
    await expect(other.close()).rejects.toThrow(
      /1 response\(s\) do not match the OpenAPI document:[\s\S]*whoAmI\) → 418/,
    );
  });
});
