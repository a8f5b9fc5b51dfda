import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  toIso,
  CreateConnectionBodySchema,
  ERROR_CATALOGUE,
  EventsQuerySchema,
  JobSearchQuerySchema,
  publicActor,
  HistoryQuerySchema,
  JOB_ACTIONS,
  JOB_STATUSES,
  JobDetailSchema,
  JobIdParamsSchema,
  JobSummarySchema,
  PROBLEM_CODES,
  STEP_STATUSES,
  fieldErrors,
  jobError,
  jobFromDetailWire,
  parseProblem,
  problemStatus,
  stepsOf,
  toJobDetailWire,
  toJobSummaryWire,
  type Job,
  type JobTransition,
} from '../src/index.js';
import { pendingJob } from './fixtures.js';

const dateArb = fc.date({
  min: new Date('2000-01-01T00:00:00Z'),
  max: new Date('2099-12-31T23:59:59Z'),
  noInvalidDate: true,
});
const nullableDate = fc.option(dateArb, { nil: null });
const errorArb = fc.option(
  fc.oneof(
    fc.constantFrom('invalid-credentials', 'worker-lost', 'maintenance').map((c) => jobError(c, 'detail')),
    fc.record({ code: fc.string({ minLength: 1 }), title: fc.string(), detail: fc.string(), retryable: fc.boolean() }),
  ),
  { nil: null },
);

const jobArb: fc.Arbitrary<Job> = fc
  .record({
    id: fc.uuid({ version: 4 }),
    connectionId: fc.uuid({ version: 4 }),
    action: fc.constantFrom(...JOB_ACTIONS),
    status: fc.constantFrom(...JOB_STATUSES),
    createdAt: dateArb,
    updatedAt: dateArb,
    startedAt: nullableDate,
    finishedAt: nullableDate,
    attempt: fc.nat({ max: 10 }),
    maxAttempts: fc.integer({ min: 1, max: 10 }),
    runAt: dateArb,
    leaseOwner: fc.option(fc.string(), { nil: null }),
    leaseExpiresAt: nullableDate,
    deadlineAt: nullableDate,
    cancelRequestedAt: nullableDate,
    error: errorArb,
    result: fc.option(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,15}$/), fc.integer()), { nil: null }),
    retryOf: fc.option(fc.uuid({ version: 4 }), { nil: null }),
    requestedBy: fc.option(fc.record({ id: fc.string(), name: fc.string() }), { nil: null }),
    version: fc.integer({ min: 1, max: 1_000 }),
    challenge: fc.option(
      fc.record({
        type: fc.constant('one-time-code' as const),
        prompt: fc.string(),
        expiresAt: dateArb,
        wrongCodes: fc.constant(0),
      }),
      { nil: null },
    ),
    stepStatuses: fc.array(fc.constantFrom(...STEP_STATUSES), { minLength: 3, maxLength: 3 }),
    stepDates: fc.array(nullableDate, { minLength: 3, maxLength: 3 }),
    stepError: errorArb,
  })
  .map(({ stepStatuses, stepDates, stepError, ...job }) => ({
    ...job,
    steps: stepsOf(job.action).map((name, i) => ({
      name,
      status: stepStatuses[i] ?? 'pending',
      startedAt: stepDates[i] ?? null,
      finishedAt: stepDates[i] ?? null,
      error: i === 0 ? stepError : null,
    })),
  }));

const transitionsArb: fc.Arbitrary<JobTransition[]> = fc.array(
  fc.record({
    from: fc.constantFrom(...JOB_STATUSES),
    to: fc.constantFrom(...JOB_STATUSES),
    at: dateArb,
    reason: fc.string(),
    actor: fc.string(),
    attempt: fc.nat({ max: 10 }),
  }),
  { maxLength: 5 },
);

describe('wire conversions', () => {
  it('domain -> wire -> JSON -> schema -> domain is the identity', () => {
    fc.assert(
      fc.property(jobArb, transitionsArb, (job, transitions) => {
        const wire = toJobDetailWire(job, transitions);
        const parsed = JobDetailSchema.parse(JSON.parse(JSON.stringify(wire)));
        // The worker's lease stays on the server.
        expect(jobFromDetailWire(parsed)).toEqual({
          job: { ...job, leaseOwner: null, leaseExpiresAt: null },
          transitions,
        });
      }),
      { numRuns: 500 },
    );
  });

  it("carries the catalogue's troubleshooting steps with a job error, and never the worker's lease", () => {
    const job: Job = {
      ...pendingJob(),
      status: 'processing',
      leaseOwner: 'host:123:abc',
      leaseExpiresAt: new Date('2024-12-10T04:34:00Z'),
      error: jobError('invalid-credentials', 'The bank said no.'),
    };
    const wire = toJobDetailWire(job, []);
    expect(wire.error?.troubleshooting).toEqual(ERROR_CATALOGUE['invalid-credentials'].troubleshooting);
    expect(toJobSummaryWire({ ...job, error: jobError('bank-said-xyz', 'new code') }).error?.troubleshooting).toEqual(
      [],
    );
    expect(JSON.stringify(wire)).not.toMatch(/lease|host:123/);
    expect(JobDetailSchema.safeParse(wire).success).toBe(true);
  });

  it('writes snake_case fields and dates as ISO-8601 UTC', () => {
    const job = pendingJob();
    const wire = toJobSummaryWire(job);
    expect(wire).toMatchObject({
      job_id: job.id,
      connection_id: job.connectionId,
      status: 'pending',
      date: '2024-12-10T04:33:00.000Z',
      started_at: null,
      retry_of: null,
    });
    expect(JobSummarySchema.safeParse(wire).success).toBe(true);
  });
});

describe('schemas reject malformed input with field-level messages', () => {
  it('a job id that is not a UUID', () => {
    const res = JobIdParamsSchema.safeParse({ job_id: 'not-a-uuid' });
    expect(res.success).toBe(false);
    if (res.success) return;
    expect(fieldErrors(res.error, 'path')).toEqual([{ field: 'path.job_id', message: 'must be a UUID' }]);
  });

  it('an unknown status in a summary or a filter', () => {
    const bad = { ...toJobSummaryWire(pendingJob()), status: 'exploded' };
    const res = JobSummarySchema.safeParse(bad);
    expect(res.success).toBe(false);
    const q = HistoryQuerySchema.safeParse({ status: 'failed,exploded' });
    expect(q.success).toBe(false);
    if (q.success) return;
    expect(fieldErrors(q.error, 'query')).toEqual([
      { field: 'query.status.1', message: expect.stringContaining('must be one of: pending') },
    ]);
  });

  it.each([['0'], ['201'], ['abc'], ['1.5'], ['']])('limit=%j is out of range', (limit) => {
    const res = HistoryQuerySchema.safeParse({ limit });
    expect(res.success).toBe(false);
    if (res.success) return;
    const [err] = fieldErrors(res.error, 'query');
    expect(err?.field).toBe('query.limit');
    expect(err?.message).toMatch(/whole number|between 1 and 200/);
  });

  // Number() reads all of these as numbers; a query limit is decimal digits only (issue 10, item 8).
  it.each([['1e1'], ['0x10'], [' 10'], ['10 '], ['+10'], ['10.0'], ['0b11'], ['Infinity'], ['1_0']])(
    'limit=%j is not a decimal whole number',
    (limit) => {
      const res = HistoryQuerySchema.safeParse({ limit });
      expect(res.success).toBe(false);
      if (res.success) return;
      expect(fieldErrors(res.error, 'query')).toEqual([{ field: 'query.limit', message: 'must be a whole number' }]);
    },
  );

  it('ids are lower-cased wherever they are given: path, query filters', () => {
    const upper = '0193A2B4-1C2D-7E8F-9A0B-1C2D3E4F5A6B';
    expect(JobIdParamsSchema.parse({ job_id: upper })).toEqual({ job_id: upper.toLowerCase() });
    expect(JobSearchQuerySchema.parse({ connection_id: upper }).connection_id).toBe(upper.toLowerCase());
    expect(EventsQuerySchema.parse({ connection_id: upper }).connection_id).toBe(upper.toLowerCase());
  });

  it('shows workers as opaque stable labels, never their host name and pid', () => {
    const worker = 'db-host-7.internal:4242:a1b2c3';
    const label = publicActor(worker);
    expect(label).toMatch(/^worker-[0-9a-f]{6}$/);
    expect(label).not.toContain('4242');
    expect(publicActor(worker)).toBe(label);
    expect(publicActor('other-host:4242:a1b2c3')).not.toBe(label);
    expect(publicActor(`sweeper:${worker}`)).toBe(label.replace('worker-', 'sweeper-'));
    // API key ids and `system` are not workers.
    expect(publicActor('0193a2b4-1c2d-7e8f-9a0b-1c2d3e4f5a6b')).toBe('0193a2b4-1c2d-7e8f-9a0b-1c2d3e4f5a6b');
    expect(publicActor('system')).toBe('system');
  });

  it('history query defaults, several statuses, and dates', () => {
    expect(HistoryQuerySchema.parse({})).toEqual({ limit: 50 });
    expect(HistoryQuerySchema.parse({ status: ['failed', 'pending,success'], limit: '200', action: 'purge' })).toEqual({
      status: ['failed', 'pending', 'success'],
      limit: 200,
      action: 'purge',
    });
    expect(
      HistoryQuerySchema.safeParse({ from: '2024-12-10T04:33:00Z', to: '2024-12-11T00:00:00+02:00' }).success,
    ).toBe(true);
    const reversed = HistoryQuerySchema.safeParse({ from: '2024-12-11T00:00:00Z', to: '2024-12-10T00:00:00Z' });
    expect(!reversed.success && fieldErrors(reversed.error)[0]?.field).toBe('from');
    expect(HistoryQuerySchema.safeParse({ from: 'yesterday' }).success).toBe(false);
  });

  it('a malformed cursor and unknown parameters', () => {
    const cur = HistoryQuerySchema.safeParse({ cursor: 'a b/c' });
    expect(!cur.success && fieldErrors(cur.error, 'query')).toEqual([
      { field: 'query.cursor', message: 'is not a valid cursor' },
    ]);
    const unknown = HistoryQuerySchema.safeParse({ stauts: 'failed' });
    expect(!unknown.success && fieldErrors(unknown.error, 'query')).toEqual([
      { field: 'query.stauts', message: 'unknown field: stauts' },
    ]);
  });

  it('connection bodies: required fields, unknown fields, bad institution id', () => {
    const ok = CreateConnectionBodySchema.safeParse({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' });
    expect(ok.success).toBe(true);
    const res = CreateConnectionBodySchema.safeParse({ institution_id: 'Sandbox!', password: '', extra: 1 });
    expect(res.success).toBe(false);
    if (res.success) return;
    const fields = fieldErrors(res.error, 'body')
      .map((e) => e.field)
      .sort();
    expect(fields).toEqual(['body.extra', 'body.institution_id', 'body.login_id', 'body.password']);
  });
});

describe('problem codes', () => {
  it('every code maps to a 4xx or 5xx status, as documented', () => {
    for (const code of PROBLEM_CODES) expect(problemStatus(code)).toBeGreaterThanOrEqual(400);
    expect(problemStatus('validation-failed')).toBe(400);
    expect(problemStatus('not-found')).toBe(404);
    expect(problemStatus('illegal-transition')).toBe(409);
    expect(problemStatus('idempotency-key-reused')).toBe(422);
    expect(problemStatus('internal-error')).toBe(500);
  });

  it('parseProblem keeps a problem+json body and replaces anything else with a generic problem', () => {
    const body = {
      type: 'https://jobtrail.dev/problems/not-found',
      title: 'Not found',
      status: 404,
      code: 'not-found',
    };
    expect(parseProblem(404, body)).toEqual(body);
    expect(parseProblem(502, '<html>bad gateway</html>')).toMatchObject({ status: 502, code: 'internal-error' });
    expect(parseProblem(503, null)).toMatchObject({ status: 503, code: 'service-unavailable' });
  });
});

describe('toIso', () => {
  it('writes exactly what Date.prototype.toISOString writes, whatever the instant', () => {
    const edges = [
      0,
      -1,
      1,
      86_399_999,
      86_400_000,
      -86_400_000,
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10000, 0, 1),
      Date.UTC(-1, 0, 1, 12),
      Date.UTC(0, 0, 1),
      8.64e15,
      -8.64e15,
    ];
    for (const ms of edges) expect(toIso(new Date(ms))).toBe(new Date(ms).toISOString());
    // Alternating days and years, so the cached day is both reused and replaced.
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.integer({ min: 0, max: 86_399_999 }), (ms, later) => {
        expect(toIso(new Date(ms))).toBe(new Date(ms).toISOString());
        const sameDay = ms - (((ms % 86_400_000) + 86_400_000) % 86_400_000) + later;
        if (Math.abs(sameDay) <= 8.64e15) expect(toIso(new Date(sameDay))).toBe(new Date(sameDay).toISOString());
      }),
      { numRuns: 2_000 },
    );
  });

  it('throws on an invalid date, as toISOString does', () => {
    expect(() => toIso(new Date(Number.NaN))).toThrow(RangeError);
  });
});
