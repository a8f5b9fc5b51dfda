import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateConnectionResponseSchema } from '@jobtrail/domain';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import request from 'supertest';
import { send as sendRaw } from '../hardening/support/http.js';
import { bearer, expectProblem, fieldsOf } from '../support/api-helpers.js';
import { openSse } from '../support/sse.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';

const kinds = await databaseKinds();

type Method = 'get' | 'post' | 'delete';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

describe.each(kinds)('request validation and error bodies on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  let connectionId: string;
  let jobId: string;

  beforeAll(async () => {
    t = await startTestApp(kind);
    auth = bearer(t.adminKey);
    const created = CreateConnectionResponseSchema.parse(
      (
        await request(t.server)
          .post('/api/connections')
          .set(auth)
          .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' })
      ).body,
    );
    connectionId = created.connection.connection_id;
    jobId = created.job.job_id;
  });
  afterAll(() => t.close());

  const connectionCount = async () =>
    ((await request(t.server).get('/api/connections?limit=200').set(auth)).body as unknown[]).length;

  describe('path ids', () => {
    // 300 characters: past the router's default longest parameter (100), which answered 414/400
    // without naming the field, before any key was checked.
    const BAD_IDS = [
      'not-a-uuid',
      '123',
      `${'0'.repeat(8)}-0000-0000-0000-00000000000g`,
      "1'%20OR%20'1'='1",
      '%20',
      'x'.repeat(300),
    ];
    const routes = (id: string): [Method, string, string][] => [
      ['get', `/api/connections/${id}`, 'path.connection_id'],
      ['delete', `/api/connections/${id}`, 'path.connection_id'],
      ['post', `/api/connections/${id}/refresh`, 'path.connection_id'],
      ['post', `/api/connections/${id}/purge`, 'path.connection_id'],
      ['get', `/api/connections/${id}/jobs`, 'path.connection_id'],
      ['get', `/api/jobs/${id}`, 'path.job_id'],
      ['get', `/api/jobs/${id}/logs`, 'path.job_id'],
      ['post', `/api/jobs/${id}/retry`, 'path.job_id'],
      ['post', `/api/jobs/${id}/cancel`, 'path.job_id'],
    ];

    it('answers 400 with the field for a non-UUID id on every path with an id', async () => {
      for (const id of BAD_IDS) {
        for (const [method, path, field] of routes(id)) {
          const problem = expectProblem(await request(t.server)[method](path).set(auth), 400, 'validation-failed');
          expect({ path, fields: fieldsOf(problem) }).toEqual({ path, fields: [field] });
          expect(problem.errors?.[0]?.message).toBe('must be a UUID');
        }
      }
      expect(await connectionCount()).toBe(1);
    });

    it('checks the id before the role: a viewer gets the same 400', async () => {
      const viewer = bearer((await t.createKey('viewer')).key);
      const res = await request(t.server).get('/api/connections/nope/jobs').set(viewer);
      expectProblem(res, 400, 'validation-failed');
    });
  });

  describe('query parameters', () => {
    const lists = () => [
      '/api/connections',
      `/api/connections/${connectionId}/jobs`,
      '/api/jobs',
      `/api/jobs/${jobId}/logs`,
    ];

    it('refuses limit 0, 201, abc, -1, 1.5 and a repeated limit', async () => {
      for (const path of lists()) {
        for (const limit of ['0', '201', 'abc', '-1', '1.5', '', '5&limit=6']) {
          const problem = expectProblem(
            await request(t.server).get(`${path}?limit=${limit}`).set(auth),
            400,
            'validation-failed',
          );
          expect({ path, limit, fields: fieldsOf(problem) }).toEqual({ path, limit, fields: ['query.limit'] });
        }
        for (const limit of ['1', '200'])
          expect((await request(t.server).get(`${path}?limit=${limit}`).set(auth)).status).toBe(200);
      }
    });

    it('refuses an unknown status, alone or among known ones, and an unknown action', async () => {
      for (const path of [`/api/connections/${connectionId}/jobs`, '/api/jobs']) {
        for (const q of [
          'status=done',
          'status=failed,done',
          'status=failed&status=done',
          'status=',
          'status=FAILED',
        ]) {
          const problem = expectProblem(
            await request(t.server).get(`${path}?${q}`).set(auth),
            400,
            'validation-failed',
          );
          expect(fieldsOf(problem).every((f) => f.startsWith('query.status'))).toBe(true);
          expect(fieldsOf(problem).length).toBeGreaterThan(0);
        }
        expect(fieldsOf(expectProblem(await request(t.server).get(`${path}?action=sync`).set(auth), 400))).toEqual([
          'query.action',
        ]);
        expect(fieldsOf(expectProblem(await request(t.server).get(`${path}?from=yesterday`).set(auth), 400))).toEqual([
          'query.from',
        ]);
        expect(
          fieldsOf(expectProblem(await request(t.server).get(`${path}?to=2024-02-30T00:00:00Z`).set(auth), 400)),
        ).toEqual(['query.to']);
      }
    });

    it('refuses unknown parameters', async () => {
      for (const path of lists()) {
        const problem = expectProblem(
          await request(t.server).get(`${path}?page=2`).set(auth),
          400,
          'validation-failed',
        );
        expect(fieldsOf(problem)).toEqual(['query.page']);
      }
      expect(fieldsOf(expectProblem(await request(t.server).get('/api/jobs?job_id=xyz').set(auth), 400))).toEqual([
        'query.job_id',
      ]);
      expect(
        fieldsOf(expectProblem(await request(t.server).get('/api/jobs?connection_id=abc').set(auth), 400)),
      ).toEqual(['query.connection_id']);
    });

    it('refuses malformed cursors: garbage, base64url of garbage, of the wrong shape, or of another list', async () => {
      const bad = [
        'not a cursor!',
        '%00',
        'x'.repeat(600),
        b64('garbage'),
        b64('{"created_at":1,"id":"x"}'),
        b64('[1.5,"01936d3e-0000-7000-8000-000000000000"]'),
        b64('[1e300,"01936d3e-0000-7000-8000-000000000000"]'),
        b64('["1","01936d3e-0000-7000-8000-000000000000"]'),
        b64('[1,"zz"]'),
        b64('[1,"01936d3e-0000-7000-8000-000000000000",3]'),
        b64('[1,"\' OR 1=1 --"]'),
        b64('s12'),
      ];
      for (const path of ['/api/connections', `/api/connections/${connectionId}/jobs`, '/api/jobs']) {
        for (const cursor of bad) {
          const problem = expectProblem(
            await request(t.server).get(`${path}?cursor=${cursor}`).set(auth),
            400,
            'validation-failed',
          );
          expect({ path, cursor, fields: fieldsOf(problem) }).toEqual({ path, cursor, fields: ['query.cursor'] });
        }
      }
      // The log lines' cursor is of another kind: a history cursor is not one.
      const history = await request(t.server).get(`/api/connections/${connectionId}/jobs?limit=1`).set(auth);
      expect(history.status).toBe(200);
      for (const cursor of [...bad.filter((c) => c !== b64('s12')), b64(JSON.stringify([Date.now(), jobId]))]) {
        const problem = expectProblem(
          await request(t.server).get(`/api/jobs/${jobId}/logs?cursor=${cursor}`).set(auth),
          400,
          'validation-failed',
        );
        expect(fieldsOf(problem)).toEqual(['query.cursor']);
      }
    });
  });

  describe('bodies', () => {
    const valid = { institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' };
    const post = (body: unknown, path = '/api/connections') =>
      request(t.server)
        .post(path)
        .set(auth)
        .send(body as object);

    it('refuses unknown fields with their names', async () => {
      const problem = expectProblem(await post({ ...valid, admin: true, pasword: 'x' }), 400, 'validation-failed');
      expect(problem.errors).toEqual([{ field: 'body.admin,pasword', message: 'unknown fields: admin, pasword' }]);
      for (const action of ['refresh', 'purge']) {
        expect(
          fieldsOf(expectProblem(await post({ force: true }, `/api/connections/${connectionId}/${action}`), 400)),
        ).toEqual(['body.force']);
      }
      expect(fieldsOf(expectProblem(await post({ reason: 'x' }, `/api/jobs/${jobId}/cancel`), 400))).toEqual([
        'body.reason',
      ]);
      expect(await connectionCount()).toBe(1);
    });

    it('names every missing or malformed field', async () => {
      const empty = expectProblem(await post({}), 400, 'validation-failed');
      expect(fieldsOf(empty).sort()).toEqual(['body.institution_id', 'body.login_id', 'body.password']);
      expect(empty.errors?.every((e) => e.message === 'is required')).toBe(true);
      expect(fieldsOf(expectProblem(await post({ ...valid, password: '' }), 400))).toEqual(['body.password']);
      expect(fieldsOf(expectProblem(await post({ ...valid, login_id: 42 }), 400))).toEqual(['body.login_id']);
      expect(fieldsOf(expectProblem(await post({ ...valid, login_id: 'x'.repeat(129) }), 400))).toEqual([
        'body.login_id',
      ]);
      expect(fieldsOf(expectProblem(await post({ ...valid, user_ref: null }), 400))).toEqual(['body.user_ref']);
      expect(fieldsOf(expectProblem(await post({ ...valid, institution_id: 'Sand Box' }), 400))).toEqual([
        'body.institution_id',
      ]);
      expectProblem(await post([valid]), 400, 'validation-failed');
      expectProblem(await request(t.server).post('/api/connections').set(auth), 400, 'validation-failed');
      expect(await connectionCount()).toBe(1);
    });

    it('refuses an unknown institution', async () => {
      const problem = expectProblem(await post({ ...valid, institution_id: 'acme-bank' }), 400, 'validation-failed');
      expect(problem.errors).toEqual([
        { field: 'body.institution_id', message: expect.stringContaining('unknown institution') },
      ]);
      expect(await connectionCount()).toBe(1);
    });

    it('refuses text PostgreSQL cannot store (NUL characters) with 400, on both databases', async () => {
      expect(
        fieldsOf(expectProblem(await post({ ...valid, login_id: 'user\u0000ok' }), 400, 'validation-failed')),
      ).toEqual(['body.login_id']);
      expect(
        fieldsOf(expectProblem(await post({ ...valid, user_ref: 'ref\u0000' }), 400, 'validation-failed')),
      ).toEqual(['body.user_ref']);
      expect(await connectionCount()).toBe(1);
    });

    it('answers 413 to a body over 16 KB', async () => {
      const big = { ...valid, user_ref: 'x'.repeat(17 * 1024) };
      const res = await post(big);
      expectProblem(res, 413, 'payload-too-large');
      // Also when the length is not announced (chunked).
      const chunked = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
        const r = request(t.server)
          .post('/api/connections')
          .set(auth)
          .set('Content-Type', 'application/json')
          .set('Transfer-Encoding', 'chunked');
        r.write(JSON.stringify(big).slice(0, 9000));
        r.write(JSON.stringify(big).slice(9000));
        r.end((err, response) =>
          err
            ? reject(err)
            : resolve({
                status: response.status,
                type: response.headers['content-type'] as string,
                text: response.text,
              }),
        );
      });
      expect(chunked.status).toBe(413);
      expect(chunked.type).toMatch(/^application\/problem\+json/);
      // Just under the limit is fine as far as size goes (then refused for user_ref's length).
      expectProblem(await post({ ...valid, user_ref: 'x'.repeat(15 * 1024) }), 400, 'validation-failed');
      expect(await connectionCount()).toBe(1);
    });

    it('answers 415 to a body that is not JSON', async () => {
      for (const [type, body] of [
        ['text/plain', JSON.stringify(valid)],
        ['application/x-www-form-urlencoded', 'institution_id=sandbox&login_id=user-ok&password=pw'],
        ['application/xml', '<connection/>'],
        ['application/json; charset=latin1', JSON.stringify(valid)],
      ] as const) {
        const res = await request(t.server).post('/api/connections').set(auth).set('Content-Type', type).send(body);
        expectProblem(res, 415, 'unsupported-media-type');
      }
      expect(await connectionCount()).toBe(1);
    });

    it('answers 400 to malformed JSON', async () => {
      for (const text of [
        '{"institution_id":',
        '{institution_id: "sandbox"}',
        "{'a':1}",
        'null',
        '"text"',
        '{"a":1}}',
      ]) {
        const res = await request(t.server)
          .post('/api/connections')
          .set(auth)
          .set('Content-Type', 'application/json')
          .send(text);
        const problem = expectProblem(res, 400, 'validation-failed');
        expect(problem.detail).toMatch(/not valid JSON/);
      }
      const onAction = await request(t.server)
        .post(`/api/connections/${connectionId}/refresh`)
        .set(auth)
        .set('Content-Type', 'application/json')
        .send('{');
      expectProblem(onAction, 400, 'validation-failed');
    });

    it('reads compressed bodies up to the limit once inflated; refuses an unknown coding (415) and a bomb (413)', async () => {
      // A tenant of its own: the other tests count the default tenant's connections.
      const own = bearer((await t.createKey('admin', 'compressed-bodies')).key);
      // Raw bytes over node:http: supertest would serialise a Buffer under a JSON type as JSON.
      const send = (coding: string, body: Buffer) =>
        sendRaw(t.server, {
          method: 'POST',
          path: '/api/connections',
          headers: { ...own, 'Content-Type': 'application/json', 'Content-Encoding': coding },
          body,
        });
      const json = (login: string) => Buffer.from(JSON.stringify({ ...valid, login_id: login }));
      expect((await send('gzip', gzipSync(json('gzip-user')))).status).toBe(202);
      expect((await send('deflate', deflateSync(json('deflate-user')))).status).toBe(202);
      expect((await send('br', brotliCompressSync(json('br-user')))).status).toBe(202);
      expectProblem((await send('compress', json('lzw-user'))) as never, 415, 'unsupported-media-type');
      expectProblem((await send('gzip', json('not-gzip'))) as never, 400, 'validation-failed');
      // 1 MB of spaces is 1 KB compressed: the limit counts what it inflates to.
      const bomb = gzipSync(Buffer.concat([json('bomb'), Buffer.alloc(1024 * 1024, 0x20)]));
      expect(bomb.length).toBeLessThan(16 * 1024);
      expectProblem((await send('gzip', bomb)) as never, 413, 'payload-too-large');
      const listed = (await request(t.server).get('/api/connections?limit=200').set(own)).body as {
        login_id: string;
      }[];
      expect(listed.map((c) => c.login_id).sort()).toEqual(['br-user', 'deflate-user', 'gzip-user']);
    });

    it('checks a body sent with a GET as any other (Fastify itself would ignore it), then ignores it', async () => {
      const get = () => request(t.server).get('/api/connections').set(auth);
      expect((await get().set('Content-Type', 'application/json').send('{"any":"object"}')).status).toBe(200);
      expectProblem(await get().set('Content-Type', 'application/json').send('{"a":'), 400, 'validation-failed');
      expectProblem(await get().set('Content-Type', 'text/plain').send('hello'), 415, 'unsupported-media-type');
      expectProblem(
        await get()
          .set('Content-Type', 'application/json')
          .send(JSON.stringify({ big: 'x'.repeat(17 * 1024) })),
        413,
        'payload-too-large',
      );
    });

    it('takes an empty body with a JSON type as no body', async () => {
      const res = await request(t.server)
        .post(`/api/connections/${connectionId}/refresh`)
        .set(auth)
        .set('Content-Type', 'application/json')
        .set('Content-Length', '0');
      expect([200, 202]).toContain(res.status);
    });
  });

  describe('routes', () => {
    it('answers 404 route-not-found to an unknown route, with or without a key', async () => {
      for (const [method, path] of [
        ['get', '/api/nope'],
        ['get', '/api/connections/x/y/z'],
        ['get', '/api'],
      ] as [Method, string][]) {
        for (const headers of [auth, {}]) {
          const problem = expectProblem(await request(t.server)[method](path).set(headers), 404, 'route-not-found');
          expect(problem.instance).toBe(path);
        }
      }
    });

    it('answers 405 method-not-allowed, with Allow, to a known path with another method', async () => {
      for (const [method, path, allow] of [
        ['post', '/api/jobs', 'GET'],
        ['delete', '/api/jobs/01936d3e-0000-7000-8000-000000000000', 'GET'],
        ['delete', '/api/connections', 'POST, GET'],
      ] as [Method, string, string][]) {
        const res = await request(t.server)[method](path).set(auth);
        expectProblem(res, 405, 'method-not-allowed');
        expect(res.headers.allow).toBe(allow);
      }
    });

    it('answers 400 problem+json to a path that is not valid percent-encoding', async () => {
      expectProblem(await request(t.server).get('/api/connections/%E0%A4%A').set(auth), 400, 'validation-failed');
    });
  });

  it('answers an unexpected error with internal-error and an error_id only, the details going to the log', async () => {
    // Break the idempotency store: a request with a key then fails in the database.
    const t2 = await startTestApp(kind);
    try {
      await t2.db.execute('ALTER TABLE idempotency_keys RENAME TO idempotency_keys_gone');
      const res = await request(t2.server)
        .post('/api/connections')
        .set(bearer(t2.adminKey))
        .set('Idempotency-Key', 'k-broken')
        .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' });
      const problem = expectProblem(res, 500, 'internal-error');
      expect(Object.keys(problem).sort()).toEqual([
        'code',
        'detail',
        'error_id',
        'instance',
        'status',
        'title',
        'type',
      ]);
      expect(problem.error_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(problem.detail).toBe(`Quote error id ${problem.error_id as string} when reporting this.`);
      expect(res.text).not.toMatch(/idempotency|table|relation|sqlite|postgres/i);
      const logged = t2.logs.filter((l) => l.includes(problem.error_id as string));
      expect(logged.length).toBeGreaterThan(0);
      expect(logged.join('\n')).toMatch(/idempotency_keys/);
    } finally {
      await t2.close();
    }
  });

  // Strict inputs (issue 10, item 8): each of these was accepted before.
  describe('strict parsing', () => {
    const base = () => `http://127.0.0.1:${(t.server.address() as AddressInfo).port}/api`;
    it('refuses query numbers that are not plain decimal digits: 1e1, 0x10, " 10", +10, 10.0', async () => {
      for (const path of ['/api/connections', `/api/connections/${connectionId}/jobs`, '/api/jobs']) {
        for (const limit of ['1e1', '0x10', '%2010', '10%20', '%2B10', '10.0', '1_0']) {
          const problem = expectProblem(
            await request(t.server).get(`${path}?limit=${limit}`).set(auth),
            400,
            'validation-failed',
          );
          expect({ path, limit, fields: fieldsOf(problem) }).toEqual({ path, limit, fields: ['query.limit'] });
        }
      }
    });

    it('refuses a JSON body with invalid UTF-8 (400) instead of storing replacement characters', async () => {
      const before = await connectionCount();
      for (const bad of [
        Buffer.from([0xff, 0xfe]), // never valid in UTF-8
        Buffer.from([0xc3, 0x28]), // a lead byte followed by no continuation byte
        Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate
        Buffer.from([0xe2, 0x82]), // truncated sequence
      ]) {
        const body = Buffer.concat([
          Buffer.from('{"institution_id":"sandbox","login_id":"user-ok","password":"p'),
          bad,
          Buffer.from('w"}'),
        ]);
        // Raw bytes (supertest would serialise a Buffer as JSON).
        const res = await fetch(`${base()}/connections`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: body,
        });
        const text = await res.text();
        expect({ bad: bad.toString('hex'), status: res.status, type: res.headers.get('content-type') }).toEqual({
          bad: bad.toString('hex'),
          status: 400,
          type: expect.stringMatching(/^application\/problem\+json/),
        });
        expect(JSON.parse(text)).toMatchObject({
          code: 'validation-failed',
          detail: 'The request body is not valid UTF-8.',
        });
      }
      expect(await connectionCount()).toBe(before);
      // Valid multi-byte UTF-8 is of course fine.
      const ok = await fetch(`${base()}/connections`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json; charset=utf-8' },
        body: Buffer.from(JSON.stringify({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pässwörd✓' })),
      });
      expect(ok.status).toBe(202);
    });

    it('finds a connection by its id in upper case everywhere: path, /jobs and /events filters', async () => {
      const upper = connectionId.toUpperCase();
      expect(upper).not.toBe(connectionId);
      const one = await request(t.server).get(`/api/connections/${upper}`).set(auth);
      expect(one.status).toBe(200);
      expect(one.body.connection_id).toBe(connectionId);
      const history = await request(t.server).get(`/api/connections/${upper}/jobs`).set(auth);
      expect((history.body as { job_id: string }[]).map((j) => j.job_id)).toContain(jobId);
      const jobs = await request(t.server).get(`/api/jobs?connection_id=${upper}`).set(auth);
      expect(jobs.status).toBe(200);
      expect((jobs.body as { job_id: string }[]).map((j) => j.job_id)).toContain(jobId);
      expect((await request(t.server).get(`/api/jobs/${jobId.toUpperCase()}`).set(auth)).status).toBe(200);
      // The stream's filter: a resume from 0 replays this connection's job under the upper-case id.
      const sse = await openSse(`${base()}/events?connection_id=${upper}`, {
        ...auth,
        'Last-Event-ID': '0',
      });
      try {
        expect(sse.status).toBe(200);
        await sse.waitFor("the connection's job", (events) => events.find((e) => e.job.job_id === jobId), 10_000);
        expect(sse.events.every((e) => e.job.connection_id === connectionId)).toBe(true);
      } finally {
        sse.close();
      }
    });
  });
});
