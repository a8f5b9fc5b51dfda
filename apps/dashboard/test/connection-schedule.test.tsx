import { describe, expect, it } from '@jest/globals';
import { screen, waitFor } from '@testing-library/react';
import { installFakeApi } from './support/fake-api.js';
import { CONNECTION_ID, connection, jobs, me } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

describe('the connection page shows its refresh schedule', () => {
  it.each([
    [{ refresh_every_hours: 6, next_refresh_at: '2099-01-01T06:00:00.000Z' }, /every 6 h; next/],
    [{ refresh_every_hours: null, next_refresh_at: null }, /on request only/],
  ])('%j', async (schedule, text) => {
    installFakeApi([
      ['GET', '/api/me', () => ({ body: me('viewer') })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection(schedule) })],
      ['GET', `/api/connections/${CONNECTION_ID}/jobs`, () => ({ body: jobs(1) })],
    ]);
    renderApp(`/connections/${CONNECTION_ID}`);
    expect(await screen.findByTestId('next-refresh')).toHaveTextContent(text);
  });
});

describe('the connection page shows a banner when its institution is failing', () => {
  const institution = (status: 'operational' | 'degraded' | 'down') => ({
    institution_id: 'sandbox',
    name: 'Sandbox bank',
    status,
    success_rate_1h: status === 'operational' ? 1 : 0.25,
    jobs_1h: 8,
    last_failure_at: status === 'operational' ? null : '2024-12-10T04:33:00.000Z',
  });
  it.each([
    ['down', /Sandbox bank is down\..*wait/],
    ['degraded', /Sandbox bank is degraded\..*25 % of its 8 refreshes/],
  ] as const)('%s', async (status, text) => {
    installFakeApi([
      ['GET', '/api/me', () => ({ body: me('viewer') })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection({ institution_id: 'sandbox' }) })],
      ['GET', `/api/connections/${CONNECTION_ID}/jobs`, () => ({ body: jobs(1) })],
      ['GET', '/api/institutions', () => ({ body: [institution(status)] })],
    ]);
    renderApp(`/connections/${CONNECTION_ID}`);
    expect(await screen.findByTestId('institution-banner')).toHaveTextContent(text);
  });

  it('no banner while it is operational', async () => {
    const fake = installFakeApi([
      ['GET', '/api/me', () => ({ body: me('viewer') })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection({ institution_id: 'sandbox' }) })],
      ['GET', `/api/connections/${CONNECTION_ID}/jobs`, () => ({ body: jobs(1) })],
      ['GET', '/api/institutions', () => ({ body: [institution('operational')] })],
    ]);
    renderApp(`/connections/${CONNECTION_ID}`);
    await screen.findByTestId('next-refresh');
    await waitFor(() => expect(fake.requests('GET', /\/institutions$/)).toHaveLength(1));
    expect(screen.queryByTestId('institution-banner')).toBeNull();
  });
});
