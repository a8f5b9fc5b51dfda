import { describe, expect, it } from '@jest/globals';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { JobDetailWire } from '@jobtrail/domain';
import { installFakeApi, problem } from './support/fake-api.js';
import { CONNECTION_ID, connection, detail, job, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const JOB_ID = uuid(300);

const waiting: JobDetailWire = detail({
  job_id: JOB_ID,
  status: 'processing',
  finished_at: null,
  result: null,
  challenge: {
    type: 'one-time-code',
    prompt: 'Enter the 6-digit code the sandbox bank sent to your phone.',
    expires_at: '2099-01-01T00:00:00.000Z',
  },
  steps: [
    {
      name: 'verify-credentials',
      status: 'action-required',
      started_at: '2024-12-10T04:33:01.000Z',
      finished_at: null,
      error: null,
    },
    { name: 'retrieve-accounts', status: 'pending', started_at: null, finished_at: null, error: null },
    { name: 'retrieve-transactions', status: 'pending', started_at: null, finished_at: null, error: null },
  ],
});

function serve(role: 'operator' | 'viewer', answer: (code: string) => ReturnType<typeof problem> | null) {
  const state = { job: waiting };
  const fake = installFakeApi([
    ['GET', '/api/me', () => ({ body: me(role) })],
    ['GET', `/api/jobs/${JOB_ID}`, () => ({ body: state.job })],
    ['GET', `/api/jobs/${JOB_ID}/logs`, () => ({ body: [] })],
    ['GET', `/api/jobs/${JOB_ID}/deliveries`, () => ({ body: [] })],
    ['GET', '/api/jobs', () => ({ body: [] })],
    [
      'POST',
      `/api/jobs/${JOB_ID}/mfa`,
      (req) => {
        const refused = answer((req.body as { code: string }).code);
        if (refused) return refused;
        state.job = {
          ...waiting,
          challenge: null,
          steps: waiting.steps.map((s, i) => (i === 0 ? { ...s, status: 'success' } : s)),
        };
        const {
          steps: _s,
          result: _r,
          requested_by: _q,
          deadline_at: _d,
          cancel_requested_at: _c,
          expires_at: _e,
          transitions: _t,
          attempts: _a,
          ...summary
        } = state.job;
        return { status: 202, body: summary };
      },
    ],
  ]);
  return fake;
}

describe('one-time-code challenge on the job page', () => {
  it('shows the prompt and the waiting step; a wrong code shows the problem, the right one clears the form', async () => {
    const fake = serve('operator', (code) =>
      code === '123456'
        ? null
        : problem(
            422,
            'mfa-code-invalid',
            'The one-time code is wrong',
            'The institution rejected the one-time code; 2 tries left.',
          ),
    );
    const user = userEvent.setup();
    renderApp(`/jobs/${JOB_ID}`);
    const box = await screen.findByTestId('challenge');
    expect(within(box).getByText(/Enter the 6-digit code/)).toBeInTheDocument();
    expect(screen.getByText(/Waiting for a one-time code/)).toBeInTheDocument();
    const form = within(box).getByRole('form', { name: 'One-time code' });
    await user.type(within(form).getByLabelText('Code'), '000000');
    await user.click(within(form).getByRole('button', { name: 'Send code' }));
    expect(await within(box).findByText(/2 tries left/)).toBeInTheDocument();
    const field = within(form).getByLabelText('Code');
    await user.clear(field);
    await user.type(field, '123456');
    await user.click(within(form).getByRole('button', { name: 'Send code' }));
    await screen.findByText(/^Done/);
    expect(screen.queryByTestId('challenge')).toBeNull();
    expect(fake.requests('POST', /\/mfa$/).map((r) => r.body)).toEqual([{ code: '000000' }, { code: '123456' }]);
  });

  it('a viewer sees the prompt but no code field', async () => {
    serve('viewer', () => null);
    renderApp(`/jobs/${JOB_ID}`);
    const box = await screen.findByTestId('challenge');
    expect(within(box).queryByRole('form')).toBeNull();
    expect(within(box).getByText(/can only read/)).toBeInTheDocument();
  });

  it('the connection history flags the waiting job: needs your input', async () => {
    const asking = job({
      job_id: uuid(301),
      status: 'processing',
      challenge: { type: 'one-time-code', prompt: 'Code?', expires_at: '2099-01-01T00:00:00.000Z' },
    });
    installFakeApi([
      ['GET', '/api/me', () => ({ body: me('operator') })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection({}) })],
      ['GET', `/api/connections/${CONNECTION_ID}/jobs`, () => ({ body: [asking, job({ job_id: uuid(302) })] })],
    ]);
    renderApp(`/connections/${CONNECTION_ID}`);
    const badges = await screen.findAllByTestId('needs-input');
    expect(badges).toHaveLength(1);
    expect(badges[0]).toHaveTextContent('Needs your input');
  });
});
