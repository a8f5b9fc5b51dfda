import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import { installFakeApi } from './support/fake-api.js';
import { connection, job, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const waiting = connection({
  connection_id: uuid(1, '01c00000-0000-7000-8000'),
  user_ref: 'acct-waiting',
  institution_id: 'sandbox',
  latest_job: job({
    status: 'processing',
    challenge: { type: 'one-time-code', prompt: 'Code?', expires_at: '2099-01-01T00:00:00.000Z' },
  }),
});
const running = connection({
  connection_id: uuid(2, '01c00000-0000-7000-8000'),
  user_ref: 'acct-running',
  institution_id: 'other-bank',
  latest_job: job({ status: 'processing', challenge: null }),
});

const health = (institution_id: string, name: string, status: 'operational' | 'degraded' | 'down') => ({
  institution_id,
  name,
  status,
  success_rate_1h: status === 'operational' ? 1 : 0.25,
  jobs_1h: 8,
  last_failure_at: status === 'operational' ? null : '2024-12-10T04:33:00.000Z',
});

function setup(institutions: ReturnType<typeof health>[]) {
  return installFakeApi([
    ['GET', '/api/me', () => ({ body: me('viewer') })],
    ['GET', '/api/connections', () => ({ body: [waiting, running] })],
    ['GET', '/api/institutions', () => ({ body: institutions })],
  ]);
}

const row = (ref: string) =>
  screen.getByRole('link', { name: new RegExp(`\\(${ref}\\)`) }).closest('tr') as HTMLElement;

describe('the connections list', () => {
  it('marks a connection whose latest job waits for a one-time code with "Needs your input", and only that one', async () => {
    setup([health('sandbox', 'Sandbox bank', 'operational'), health('other-bank', 'Other bank', 'operational')]);
    renderApp('/');
    await screen.findByRole('link', { name: /acct-waiting/ });
    expect(within(row('acct-waiting')).getByTestId('needs-input')).toHaveTextContent('Needs your input');
    expect(within(row('acct-running')).queryByTestId('needs-input')).toBeNull();
  });

  it('shows a banner for each listed institution that is down or degraded, from one request', async () => {
    const fake = setup([
      health('sandbox', 'Sandbox bank', 'down'),
      health('other-bank', 'Other bank', 'degraded'),
      health('unlisted', 'Unlisted bank', 'down'),
    ]);
    renderApp('/');
    await waitFor(() => expect(screen.getAllByTestId('institution-banner')).toHaveLength(2));
    const banners = screen.getAllByTestId('institution-banner').map((b) => b.textContent);
    expect(banners).toEqual([
      expect.stringMatching(/Other bank is degraded\..*25 % of its 8 refreshes/),
      expect.stringMatching(/Sandbox bank is down\./),
    ]);
    expect(fake.requests('GET', /\/institutions$/)).toHaveLength(1);
  });

  it('shows no banner while the listed institutions are operational', async () => {
    const fake = setup([
      health('sandbox', 'Sandbox bank', 'operational'),
      health('other-bank', 'Other', 'operational'),
    ]);
    renderApp('/');
    await screen.findByRole('link', { name: /acct-waiting/ });
    await waitFor(() => expect(fake.requests('GET', /\/institutions$/)).toHaveLength(1));
    expect(screen.queryByTestId('institution-banner')).toBeNull();
  });
});
