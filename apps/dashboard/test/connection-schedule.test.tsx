import { describe, expect, it } from '@jest/globals';
import { screen } from '@testing-library/react';
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
