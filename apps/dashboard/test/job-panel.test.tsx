import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ERROR_CATALOGUE, type ApiKeyRole, type JobDetailWire, type JobSummaryWire } from '@jobtrail/domain';
import { installFakeApi, type Route } from './support/fake-api.js';
import { CONNECTION_ID, TENANT_ID, detail, job, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const JOB_ID = uuid(100);

/** A small stateful server: `state.job` is what GET answers, `state.search` what the search finds. */
function serve(
  job: JobDetailWire,
  role: ApiKeyRole = 'operator',
  extra: Route[] = [],
  state = { job, search: [] as JobSummaryWire[] },
) {
  return installFakeApi([
    ['GET', '/api/me', () => ({ body: me(role) })],
    ['GET', `/api/jobs/${job.job_id}`, () => ({ body: state.job })],
    [
      'GET',
      `/api/jobs/${job.job_id}/logs`,
      () => ({
        body: [{ seq: 1, at: job.date, level: 'info', step: null, message: 'refresh requested by key "operator key"' }],
      }),
    ],
    ['GET', '/api/jobs', () => ({ body: state.search })],
    ...extra,
  ]);
}

const failed = detail({
  status: 'failed',
  error: {
    code: 'invalid-credentials',
    title: 'Invalid credentials',
    detail: 'The institution rejected the password for user-bad-password.',
    retryable: false,
    troubleshooting: [],
  },
  result: null,
  steps: [
    {
      name: 'verify-credentials',
      status: 'failed',
      started_at: '2024-12-10T04:33:01.000Z',
      finished_at: '2024-12-10T04:33:01.200Z',
      error: {
        code: 'invalid-credentials',
        title: 'Invalid credentials',
        detail: 'x',
        retryable: false,
        troubleshooting: [],
      },
    },
    { name: 'retrieve-accounts', status: 'skipped', started_at: null, finished_at: null, error: null },
    { name: 'retrieve-transactions', status: 'skipped', started_at: null, finished_at: null, error: null },
  ],
  finished_at: '2024-12-10T04:33:01.200Z',
  transitions: [
    {
      from: 'pending',
      to: 'processing',
      at: '2024-12-10T04:33:01.000Z',
      reason: 'claimed',
      actor: 'worker-1',
      attempt: 1,
    },
    {
      from: 'processing',
      to: 'failed',
      at: '2024-12-10T04:33:01.200Z',
      reason: 'invalid-credentials',
      actor: 'worker-1',
      attempt: 1,
    },
  ],
});

describe('job panel', () => {
  it('shows a successful job: badge, result summary, steps done, transitions, logs, and no Retry or Cancel', async () => {
    serve(detail());
    renderApp(`/jobs/${JOB_ID}`);
    expect(await screen.findByTestId('job-status')).toHaveTextContent('✅ Success');
    const result = screen.getByRole('region', { name: 'Result' });
    expect(within(result).getByText('accounts').nextElementSibling).toHaveTextContent('3');
    expect(within(result).getByText('transactions').nextElementSibling).toHaveTextContent('412');

    const steps = within(screen.getByRole('list', { name: 'Steps' })).getAllByRole('listitem');
    expect(steps.map((s) => s.textContent)).toEqual([
      expect.stringContaining('Verify credentials'),
      expect.stringContaining('Retrieve accounts'),
      expect.stringContaining('Retrieve transactions'),
    ]);
    for (const step of steps) expect(step).toHaveTextContent('Done');

    const transitions = within(screen.getByRole('region', { name: 'Status changes' }))
      .getAllByRole('row')
      .slice(1);
    expect(transitions).toHaveLength(2);
    expect(transitions[1]).toHaveTextContent('Processing → ✅ Success');
    expect(transitions[1]).toHaveTextContent('completed');
    expect(transitions[1]).toHaveTextContent('worker-1');

    expect(await screen.findByText('refresh requested by key "operator key"')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Cancel job' })).not.toBeInTheDocument();
    expect(screen.queryByRole('region', { name: /went wrong/ })).not.toBeInTheDocument();
  });

  it('explains a failed job with the catalogue title, the detail and every troubleshooting step, and retries it', async () => {
    const retry = job({
      job_id: uuid(101),
      status: 'pending',
      retry_of: JOB_ID,
      date: '2024-12-10T05:00:00.000Z',
      updated_at: '2024-12-10T05:00:00.000Z',
      started_at: null,
      finished_at: null,
      attempt: 0,
    });
    const state = { job: failed, search: [] as JobSummaryWire[] };
    const fake = serve(
      failed,
      'operator',
      [['POST', `/api/jobs/${JOB_ID}/retry`, () => ((state.search = [retry]), { status: 202, body: retry })]],
      state,
    );
    const user = userEvent.setup();
    renderApp(`/jobs/${JOB_ID}`);

    expect(await screen.findByTestId('job-status')).toHaveTextContent('❌ Failed');
    const error = screen.getByRole('region', { name: 'What went wrong' });
    expect(error).toHaveTextContent(ERROR_CATALOGUE['invalid-credentials'].title);
    expect(error).toHaveTextContent('invalid-credentials');
    expect(error).toHaveTextContent('The institution rejected the password for user-bad-password.');
    const steps = within(error).getAllByRole('listitem');
    expect(steps.map((li) => li.textContent)).toEqual([...ERROR_CATALOGUE['invalid-credentials'].troubleshooting]);
    expect(within(screen.getByRole('list', { name: 'Steps' })).getAllByRole('listitem')[0]).toHaveTextContent('Failed');

    await user.click(screen.getByRole('button', { name: 'Retry' }));
    // invalid-credentials is not retryable: Retry asks first (issue 15), then goes ahead.
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Retry anyway' }));
    await waitFor(() => expect(fake.requests('POST', /retry$/)).toHaveLength(1));
    const link = await screen.findByRole('link', { name: retry.job_id });
    expect(link).toHaveAttribute('href', `/jobs/${retry.job_id}`);
    expect(link.closest('li')).toHaveTextContent('Retried by');
    expect(screen.getByText(/Retry started as/)).toBeInTheDocument();
  });

  it('copies support details with tenant, connection and job ids and the error code', async () => {
    serve(failed);
    const user = userEvent.setup();
    renderApp(`/jobs/${JOB_ID}`);
    await user.click(await screen.findByRole('button', { name: 'Copy support details' }));
    const text = await navigator.clipboard.readText();
    expect(text).toContain(`Tenant: acme (${TENANT_ID})`);
    expect(text).toContain(`Connection: ${CONNECTION_ID}`);
    expect(text).toContain(`Job: ${JOB_ID}`);
    expect(text).toContain('Error code: invalid-credentials');
  });

  it('shows a processing job with its running step and a Cancel button, and cancels it', async () => {
    const processing = detail({
      status: 'processing',
      finished_at: null,
      result: null,
      steps: [
        {
          name: 'verify-credentials',
          status: 'success',
          started_at: '2024-12-10T04:33:01.000Z',
          finished_at: '2024-12-10T04:33:01.500Z',
          error: null,
        },
        {
          name: 'retrieve-accounts',
          status: 'running',
          started_at: '2024-12-10T04:33:01.500Z',
          finished_at: null,
          error: null,
        },
        { name: 'retrieve-transactions', status: 'pending', started_at: null, finished_at: null, error: null },
      ],
      transitions: [
        {
          from: 'pending',
          to: 'processing',
          at: '2024-12-10T04:33:01.000Z',
          reason: 'claimed',
          actor: 'worker-7',
          attempt: 1,
        },
      ],
    });
    const cancelled = job({
      status: 'processing',
      cancel_requested: true,
      finished_at: null,
      updated_at: '2024-12-10T04:34:00.000Z',
    });
    const state = { job: processing, search: [] as JobSummaryWire[] };
    const onCancel = () => {
      state.job = { ...processing, ...cancelled, cancel_requested_at: cancelled.updated_at };
      return { status: 202, body: cancelled };
    };
    const fake = serve(processing, 'operator', [['POST', `/api/jobs/${JOB_ID}/cancel`, onCancel]], state);
    const user = userEvent.setup();
    renderApp(`/jobs/${JOB_ID}`);

    expect(await screen.findByTestId('job-status')).toHaveTextContent('⏳ Processing');
    const steps = within(screen.getByRole('list', { name: 'Steps' })).getAllByRole('listitem');
    expect(steps[0]).toHaveTextContent('Done');
    expect(steps[1]).toHaveTextContent('Running');
    expect(steps[2]).toHaveTextContent('Not started');
    // The worker holding the job is the engine's business: not shown to tenants.
    expect(screen.queryByText('worker-7', { selector: 'dd' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Cancel job' }));
    await waitFor(() => expect(fake.requests('POST', /cancel$/)).toHaveLength(1));
    // The answer says a cancel is pending: the machine allows no second one.
    expect(await screen.findByText('Cancel requested: the job stops at its next step.')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Cancel job' })).not.toBeInTheDocument();
  });

  it('shows no Retry to a read-only key, and says why', async () => {
    serve(failed, 'viewer');
    renderApp(`/jobs/${JOB_ID}`);
    expect(await screen.findByText(/role \(viewer\) can only read/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
  });

  it('links a retry to the job it retries', async () => {
    serve(detail({ job_id: uuid(102), retry_of: JOB_ID }));
    renderApp(`/jobs/${uuid(102)}`);
    const link = await screen.findByRole('link', { name: JOB_ID });
    expect(link.closest('li')).toHaveTextContent('Retry of');
  });

  it('shows the problem when the job does not exist', async () => {
    installFakeApi([['GET', '/api/me', () => ({ body: me() })]]);
    renderApp(`/jobs/${uuid(999)}`);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not load this job');
    expect(alert).toHaveTextContent('No such route');
  });
});
