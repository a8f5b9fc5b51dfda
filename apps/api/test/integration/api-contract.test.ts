/**
 * An API that says what it does: job errors carry their troubleshooting steps, worker internals
 * stay inside, a 202 says where the job is, a field of the wrong type is called that, and the
 * document names the headers the API sends and reads.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ERROR_CATALOGUE, JobDetailSchema, isTerminal } from '@jobtrail/domain';
import request from 'supertest';
import { ERROR_CODES_PAGE, renderErrorCodesPage } from '../../src/docs/error-codes-page.js';
import { bearer, expectProblem } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();

describe.each(kinds)('API contract on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'all' });
    auth = bearer(t.adminKey);
  });
  afterAll(() => t.close());

  const connect = (login: string, extra: Record<string, string> = {}) =>
    request(t.server)
      .post('/api/connections')
      .set({ ...auth, ...extra })
      .send({ institution_id: 'sandbox', login_id: login, password: 'pw' });
  const settled = (jobId: string) =>
    waitFor(`job ${jobId} to end`, async () => {
      const res = await request(t.server).get(`/api/jobs/${jobId}`).set(auth).expect(200);
      return isTerminal(res.body.status) ? res : undefined;
    });

  it("gives a failed job's error the catalogue's troubleshooting steps, and no worker lease", async () => {
    const created = await connect('user-bad-password').expect(202);
    const res = await settled(created.body.job.job_id as string);
    const job = JobDetailSchema.parse(res.body);
    expect(job.error).toMatchObject({
      code: 'invalid-credentials',
      retryable: false,
      troubleshooting: [...ERROR_CATALOGUE['invalid-credentials'].troubleshooting],
    });
    expect(job.steps[0]?.error?.troubleshooting).toEqual([...ERROR_CATALOGUE['invalid-credentials'].troubleshooting]);
    // In the history too.
    const history = await request(t.server).get(`/api/connections/${job.connection_id}/jobs`).set(auth).expect(200);
    expect(history.body[0].error.troubleshooting).toEqual([...ERROR_CATALOGUE['invalid-credentials'].troubleshooting]);
    expect(res.body).not.toHaveProperty('lease_owner');
    expect(res.body).not.toHaveProperty('lease_expires_at');
  });

  it('answers every 202 with Location: the URL of the job, which answers', async () => {
    const created = await connect('user-slow').expect(202);
    expect(created.headers.location).toBe(`/api/jobs/${created.body.job.job_id}`);
    await request(t.server)
      .get(created.headers.location as string)
      .set(auth)
      .expect(200);
    const connectionId = created.body.connection.connection_id as string;
    const purge = await request(t.server).post(`/api/connections/${connectionId}/purge`).set(auth).expect(202);
    expect(purge.headers.location).toBe(`/api/jobs/${purge.body.job_id}`);
    // The same action again: 200 with the job already queued, not a new one: no Location.
    const again = await request(t.server).post(`/api/connections/${connectionId}/purge`).set(auth).expect(200);
    expect(again.headers.location).toBeUndefined();
    // An idempotent replay of a 202 is a 202 too.
    const key = { 'Idempotency-Key': `contract-${kind}` };
    const first = await connect('user-ok', key).expect(202);
    const replay = await connect('user-ok', key).expect(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers.location).toBe(first.headers.location);
    expect(first.headers.location).toBe(`/api/jobs/${first.body.job.job_id}`);
  });

  it('says a field of the wrong type has the wrong type, and a missing one is required', async () => {
    const res = await request(t.server)
      .post('/api/connections')
      .set(auth)
      .send({ institution_id: 'sandbox', login_id: 5, password: ['pw'], user_ref: 7 });
    const problem = expectProblem(res, 400, 'validation-failed');
    expect(problem.errors).toEqual(
      expect.arrayContaining([
        { field: 'body.login_id', message: 'must be a string' },
        { field: 'body.password', message: 'must be a string' },
        { field: 'body.user_ref', message: 'must be a string' },
      ]),
    );
    const missing = expectProblem(
      await request(t.server).post('/api/connections').set(auth).send({ institution_id: 'sandbox' }),
      400,
      'validation-failed',
    );
    expect(missing.errors).toEqual(
      expect.arrayContaining([
        { field: 'body.login_id', message: 'is required' },
        { field: 'body.password', message: 'is required' },
      ]),
    );
  });

  it('documents the headers it sends and reads: Location, Idempotent-Replayed, Last-Event-ID', async () => {
    type Op = { parameters: { name: string; in: string }[]; responses: Record<string, { headers?: object }> };
    const doc = (await request(t.server).get('/api/docs/openapi.json').expect(200)).body as {
      paths: Record<string, Record<string, Op>>;
    };
    const ops = Object.values(doc.paths).flatMap((item) => Object.values(item));
    // Every 202 that starts a job says where to follow it (a queued webhook delivery has no job).
    const accepted = ops.filter(
      (op) => op.responses['202'] && !JSON.stringify(op.responses['202']).includes('WebhookDelivery'),
    );
    expect(accepted.length).toBeGreaterThan(0);
    for (const op of accepted)
      expect(op.responses['202']!.headers).toHaveProperty('Location', expect.objectContaining({ required: true }));
    const idempotent = ops.filter((op) => op.parameters.some((p) => p.name === 'Idempotency-Key'));
    expect(idempotent.length).toBeGreaterThan(0);
    for (const op of idempotent)
      for (const [status, response] of Object.entries(op.responses))
        if (status.startsWith('2')) expect(response.headers).toHaveProperty('Idempotent-Replayed');
    expect(doc.paths['/events']!.get!.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'Last-Event-ID', in: 'header' })]),
    );
  });
});

describe('the documentation in the repository', () => {
  const read = (path: string) => readFileSync(fileURLToPath(new URL(`../../../../${path}`, import.meta.url)), 'utf8');

  it('stands on its own: the README and the API guide send nobody outside the repository', () => {
    for (const path of ['README.md', 'docs/api.md', 'docs/error-codes.md'])
      expect(read(path)).not.toMatch(/shared\/SPEC/);
    expect(read('README.md')).toContain('(docs/api.md)');
    // The guide covers what an integrator needs.
    for (const heading of ['## Errors', '## Paging', '## Idempotency', '## Events', '## Limits', '## API keys'])
      expect(read('docs/api.md')).toContain(heading);
  });
});

describe('docs/error-codes.md', () => {
  it('is the page generated from the catalogue (regenerate: pnpm --filter @jobtrail/api docs:error-codes)', () => {
    const file = fileURLToPath(new URL(`../../../../${ERROR_CODES_PAGE}`, import.meta.url));
    expect(readFileSync(file, 'utf8')).toBe(renderErrorCodesPage());
  });
});
