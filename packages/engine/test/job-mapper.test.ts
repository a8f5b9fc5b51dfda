import { describe, expect, it, jest } from '@jest/globals';
import { createJob, jobError, toJobSummaryWire, transitionJobOrThrow, type JobStep } from '@jobtrail/domain';
import {
  JOB_COLUMNS,
  jobToValues,
  logLinesJson,
  rowToJob,
  rowToJobSummary,
  stepsToJson,
  uuidv7,
  type JobRow,
} from '../src/index.js';

/** A stored job's row, as a driver returns it (PostgreSQL's BIGINTs as strings). */
function storedRow(): JobRow {
  const now = new Date();
  const job = createJob({ id: uuidv7(now.getTime()), connectionId: uuidv7(), action: 'refresh', now, maxAttempts: 3 });
  const claimed = transitionJobOrThrow(
    job,
    { type: 'claim', workerId: 'w1', leaseMs: 30_000 },
    { now, actor: 'w1' },
  ).job;
  const values = jobToValues(claimed, 'tenant-1');
  return Object.fromEntries(
    JOB_COLUMNS.map((c, i) => [c, typeof values[i] === 'number' && c.endsWith('_at') ? String(values[i]) : values[i]]),
  ) as unknown as JobRow;
}

describe('rowToJob', () => {
  it('reads a stored job back whole: the steps too, with their dates', () => {
    const row = storedRow();
    const job = rowToJob(row);
    expect(job.steps).toHaveLength(3);
    expect(job.steps.every((s) => s.status === 'pending' && s.startedAt === null)).toBe(true);
    // A copy (what every transition makes) carries the steps as values.
    const copy = { ...job };
    expect(Object.getOwnPropertyDescriptor(copy, 'steps')?.value).toEqual(job.steps);
    expect(jobToValues(job, 'tenant-1')).toEqual(jobToValues(copy, 'tenant-1'));
  });

  it('parses the steps only when they are read: a summary (history pages, lists) never does', () => {
    const row = { ...storedRow(), steps: '{not json' };
    const job = rowToJob(row);
    expect(toJobSummaryWire(job).status).toBe('processing');
    expect(() => job.steps).toThrow(SyntaxError);
  });
});

describe('rowToJobSummary', () => {
  it('reads every field of the job but its steps and result, as rowToJob does', () => {
    const row = { ...storedRow(), result: '{"accounts":2,"transactions":9}' };
    const { steps, result, ...rest } = rowToJob(row);
    expect(steps).toHaveLength(3);
    expect(result).toEqual({ accounts: 2, transactions: 9 });
    const summary = rowToJobSummary(row);
    expect(summary).toEqual(rest);
    expect(Object.keys(summary).sort()).toEqual(Object.keys(rest).sort());
    expect(toJobSummaryWire(summary)).toEqual(toJobSummaryWire(rowToJob(row)));
  });

  it('never parses the steps or the result columns', () => {
    const row = { ...storedRow(), steps: '{not json', result: '{not json either' };
    expect(rowToJobSummary(row).status).toBe('processing');
    expect(() => rowToJob(row)).toThrow(SyntaxError);
  });
});

describe('stepsToJson', () => {
  const at = new Date('2026-11-30T08:00:00.123Z');
  const steps: JobStep[] = [
    {
      name: 'verify-credentials',
      status: 'success',
      startedAt: at,
      finishedAt: new Date(at.getTime() + 5),
      error: null,
    },
    {
      name: 'retrieve-accounts',
      status: 'failed',
      startedAt: at,
      finishedAt: at,
      error: jobError('institution-unavailable', 'The bank said "no" \\ twice\n', true),
    },
    {
      name: 'retrieve-transactions',
      status: 'pending',
      startedAt: null,
      finishedAt: new Date(Number.NaN),
      error: null,
    },
  ];

  it('writes what JSON.stringify writes, so stored steps read back the same whoever wrote them', () => {
    expect(stepsToJson(steps)).toBe(JSON.stringify(steps));
    expect(stepsToJson([])).toBe('[]');
  });

  it('serialises a steps array once: a change that ends an attempt stores the same array twice', () => {
    const parse = jest.spyOn(JSON, 'stringify');
    const fresh = steps.map((s) => ({ ...s }));
    const first = stepsToJson(fresh);
    const calls = parse.mock.calls.length;
    expect(stepsToJson(fresh)).toBe(first);
    expect(parse.mock.calls.length).toBe(calls);
    parse.mockRestore();
  });
});

describe('logLinesJson', () => {
  it('writes what JSON.stringify writes for the stored lines', () => {
    const at = new Date('2026-11-30T08:00:00.123Z');
    const lines = [
      { kind: 'log' as const, at, level: 'info' as const, step: null, message: 'requested by "ops" \\ \n ☃' },
      {
        kind: 'log' as const,
        at: new Date(Number.NaN),
        level: 'warn' as const,
        step: 'verify-credentials' as const,
        message: '',
      },
    ];
    expect(logLinesJson(lines)).toBe(
      JSON.stringify(lines.map((l) => ({ at: l.at.getTime(), level: l.level, step: l.step, message: l.message }))),
    );
    expect(logLinesJson([])).toBe('[]');
  });
});
