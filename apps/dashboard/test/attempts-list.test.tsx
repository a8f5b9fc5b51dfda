import { describe, expect, it } from '@jest/globals';
import { screen, within } from '@testing-library/react';
import { installFakeApi } from './support/fake-api.js';
import { detail, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const JOB_ID = uuid(300);
const unavailable = {
  code: 'institution-unavailable',
  title: 'Institution unavailable',
  detail: 'Institution unavailable',
  retryable: true,
  troubleshooting: [],
};

describe('attempts of a job', () => {
  it('a job that failed twice then succeeded shows every attempt, the latest open', async () => {
    const job = detail({
      job_id: JOB_ID,
      attempt: 3,
      attempts: [
        {
          attempt: 1,
          started_at: '2024-12-10T04:33:01.000Z',
          finished_at: '2024-12-10T04:33:02.000Z',
          outcome: 'requeued',
          error: unavailable,
          worker: 'worker-a',
          steps: [],
        },
        {
          attempt: 2,
          started_at: '2024-12-10T04:33:05.000Z',
          finished_at: '2024-12-10T04:33:06.000Z',
          outcome: 'requeued',
          error: { ...unavailable, code: 'worker-lost', title: 'Worker lost', detail: 'Worker lost' },
          worker: 'worker-b',
          steps: [],
        },
        {
          attempt: 3,
          started_at: '2024-12-10T04:33:09.000Z',
          finished_at: '2024-12-10T04:33:12.000Z',
          outcome: 'success',
          error: null,
          worker: 'worker-c',
          steps: [],
        },
      ],
    });
    installFakeApi([
      ['GET', '/api/me', () => ({ body: me() })],
      ['GET', `/api/jobs/${JOB_ID}`, () => ({ body: job })],
      ['GET', `/api/jobs/${JOB_ID}/logs`, () => ({ body: [] })],
      ['GET', '/api/jobs', () => ({ body: [] })],
    ]);
    renderApp(`/jobs/${JOB_ID}`);
    const list = await screen.findByRole('list', { name: 'Attempts' });
    const items = within(list).getAllByRole('listitem');
    expect(items.map((li) => li.querySelector('summary')?.textContent)).toEqual([
      'Attempt 1: ↻ Requeued institution-unavailable',
      'Attempt 2: ↻ Requeued worker-lost',
      'Attempt 3: ✅ Succeeded',
    ]);
    expect(items.map((li) => li.querySelector('details')?.open)).toEqual([false, false, true]);
    expect(within(items[1]!).getByText('worker-b')).toBeInTheDocument();
  });

  it('each earlier attempt shows its own steps, one click away; one recorded before steps were kept says so', async () => {
    const job = detail({
      job_id: JOB_ID,
      attempt: 3,
      attempts: [
        {
          attempt: 1,
          started_at: '2024-12-10T04:33:01.000Z',
          finished_at: '2024-12-10T04:33:02.000Z',
          outcome: 'requeued',
          error: unavailable,
          worker: 'worker-a',
          steps: [],
        },
        {
          attempt: 2,
          started_at: '2024-12-10T04:33:05.000Z',
          finished_at: '2024-12-10T04:33:07.000Z',
          outcome: 'requeued',
          error: unavailable,
          worker: 'worker-b',
          steps: [
            {
              name: 'verify-credentials',
              status: 'success',
              started_at: '2024-12-10T04:33:05.000Z',
              finished_at: '2024-12-10T04:33:06.000Z',
              error: null,
            },
            {
              name: 'retrieve-accounts',
              status: 'failed',
              started_at: '2024-12-10T04:33:06.000Z',
              finished_at: '2024-12-10T04:33:07.000Z',
              error: unavailable,
            },
            { name: 'retrieve-transactions', status: 'skipped', started_at: null, finished_at: null, error: null },
          ],
        },
        {
          attempt: 3,
          started_at: '2024-12-10T04:33:09.000Z',
          finished_at: null,
          outcome: 'running',
          error: null,
          worker: 'worker-c',
          steps: [],
        },
      ],
    });
    installFakeApi([
      ['GET', '/api/me', () => ({ body: me() })],
      ['GET', `/api/jobs/${JOB_ID}`, () => ({ body: job })],
      ['GET', `/api/jobs/${JOB_ID}/logs`, () => ({ body: [] })],
      ['GET', '/api/jobs', () => ({ body: [] })],
    ]);
    renderApp(`/jobs/${JOB_ID}`);
    const list = await screen.findByRole('list', { name: 'Attempts' });
    const items = [...list.children] as HTMLElement[];
    const second = within(items[1]!).getByRole('list', { name: 'Steps of attempt 2', hidden: true });
    expect(
      within(second)
        .getAllByRole('listitem', { hidden: true })
        .map((li) => li.className),
    ).toEqual(['timeline-step step-success', 'timeline-step step-failed', 'timeline-step step-skipped']);
    expect(within(second).getByText(/Retrieve accounts/)).toBeInTheDocument();
    expect(within(items[0]!).getByText(/steps were not kept/)).toBeInTheDocument();
    expect(within(items[0]!).queryByRole('list', { hidden: true })).toBeNull();
    expect(within(items[2]!).getByText('Its steps are the ones shown above.')).toBeInTheDocument();
    // The page's own steps list stays the only one named "Steps".
    expect(screen.getAllByRole('list', { name: 'Steps' })).toHaveLength(1);
  });
});
