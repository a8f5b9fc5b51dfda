import { describe, expect, it } from '@jest/globals';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { QueryClient, type InfiniteData } from '@tanstack/react-query';
import type { ConnectionWire } from '@jobtrail/domain';
import type { Page } from '../src/api/client.js';
import { queryKeys } from '../src/api/query-keys.js';
import {
  connectionsPath,
  NO_CONNECTION_FILTERS,
  parseConnectionFilters,
  type ConnectionFilters,
} from '../src/connections/connections-filters.js';
import { applyJobChange } from '../src/live/apply-job-change.js';
import { installFakeApi } from './support/fake-api.js';
import { connection, job, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const failedJob = job({ status: 'failed' });
const broken = connection({
  connection_id: uuid(1, '01b00000-0000-7000-8000'),
  login_id: 'user-bad-password',
  user_ref: 'acct-7731',
  status: 'invalid',
  latest_job: failedJob,
});
const fine = connection({ connection_id: uuid(2, '01b00000-0000-7000-8000'), user_ref: 'acct-1204' });

/** A fake `GET /connections` applying the filters as the API does. */
function setup() {
  return installFakeApi([
    ['GET', '/api/me', () => ({ body: me('viewer') })],
    [
      'GET',
      '/api/connections',
      (req) => {
        const p = req.url.searchParams;
        return {
          body: [broken, fine].filter(
            (c) =>
              (!p.get('status') || c.status === p.get('status')) &&
              (!p.get('institution_id') || c.institution_id === p.get('institution_id')) &&
              (!p.get('latest_job_status') || c.latest_job?.status === p.get('latest_job_status')),
          ),
        };
      },
    ],
  ]);
}

describe('connection filters', () => {
  it('read the URL (dropping what is malformed) and name the API’s parameters', () => {
    expect(
      parseConnectionFilters(new URLSearchParams('status=invalid&institution_id=Bad!&latest_job_status=failed')),
    ).toEqual({
      status: 'invalid',
      institutionId: null,
      latestJobFailed: true,
    });
    expect(parseConnectionFilters(new URLSearchParams('status=broken&latest_job_status=success'))).toEqual(
      NO_CONNECTION_FILTERS,
    );
    expect(connectionsPath({ status: 'active', institutionId: 'sandbox', latestJobFailed: true }, 50)).toBe(
      '/connections?status=active&institution_id=sandbox&latest_job_status=failed&limit=50',
    );
  });

  it('filter the list by status, institution and "latest job failed", kept in the URL, and clear', async () => {
    const fake = setup();
    const user = userEvent.setup();
    renderApp('/?latest_job_status=failed');
    expect(await screen.findByRole('link', { name: 'Connection us•••rd (acct-7731)' })).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Connection us•••ok (acct-1204)' })).not.toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: 'Latest job failed' })).toBeChecked();
    expect(fake.requests('GET', /^\/api\/connections$/)[0]!.url.searchParams.get('latest_job_status')).toBe('failed');

    await user.click(screen.getByRole('checkbox', { name: 'Latest job failed' }));
    await waitFor(() => expect(window.location.search).toBe(''));
    expect(await screen.findByRole('link', { name: 'Connection us•••ok (acct-1204)' })).toBeInTheDocument();

    await user.selectOptions(screen.getByRole('combobox', { name: 'Status' }), 'Active');
    await waitFor(() => expect(window.location.search).toBe('?status=active'));
    await waitFor(() =>
      expect(screen.queryByRole('link', { name: 'Connection us•••rd (acct-7731)' })).not.toBeInTheDocument(),
    );
    expect(screen.getByRole('link', { name: 'Connection us•••ok (acct-1204)' })).toBeInTheDocument();

    await user.type(screen.getByLabelText('Institution'), 'elsewhere{Enter}');
    await waitFor(() => expect(window.location.search).toBe('?status=active&institution_id=elsewhere'));
    expect(await screen.findByText('No connection matches these filters.')).toBeInTheDocument();
    expect(
      fake
        .requests('GET', /^\/api\/connections$/)
        .at(-1)!
        .url.searchParams.get('institution_id'),
    ).toBe('elsewhere');

    await user.click(screen.getByRole('button', { name: 'Clear filters' }));
    await waitFor(() => expect(window.location.search).toBe(''));
    expect(await screen.findByRole('link', { name: 'Connection us•••rd (acct-7731)' })).toBeInTheDocument();
    expect(screen.getByLabelText('Institution')).toHaveValue('');
  });

  it('live: a filtered list is re-read when a job of a listed connection ends; the unfiltered one is patched', async () => {
    const client = new QueryClient();
    const filtered: ConnectionFilters = { ...NO_CONNECTION_FILTERS, latestJobFailed: true };
    const pages = (items: ConnectionWire[]) => ({ pages: [{ items, next: null }], pageParams: [null] });
    client.setQueryData(queryKeys.connectionsList(NO_CONNECTION_FILTERS), pages([broken, fine]));
    client.setQueryData(queryKeys.connectionsList(filtered), pages([broken]));
    const fixed = job({
      job_id: uuid(0x99),
      connection_id: broken.connection_id,
      status: 'success',
      updated_at: '2024-12-10T06:00:00.000Z',
      date: '2024-12-10T06:00:00.000Z',
    });
    applyJobChange(client, fixed);
    const read = (f: ConnectionFilters) =>
      client.getQueryData<InfiniteData<Page<ConnectionWire>>>(queryKeys.connectionsList(f))!.pages[0]!.items;
    expect(read(NO_CONNECTION_FILTERS)[0]!.latest_job?.job_id).toBe(fixed.job_id);
    // The row is patched in place and the filtered list marked for a new read (it may no longer match).
    expect(read(filtered)[0]!.latest_job?.status).toBe('success');
    expect(client.getQueryState(queryKeys.connectionsList(filtered))!.isInvalidated).toBe(true);
    expect(client.getQueryState(queryKeys.connectionsList(NO_CONNECTION_FILTERS))!.isInvalidated).toBe(false);
  });

  it('live: a filtered list is not re-read for the progress of a connection it does not show, only when its job ends', () => {
    const client = new QueryClient();
    const filtered: ConnectionFilters = { ...NO_CONNECTION_FILTERS, latestJobFailed: true };
    client.setQueryData(queryKeys.connectionsList(filtered), {
      pages: [{ items: [broken], next: null }],
      pageParams: [null],
    });
    const other = { job_id: uuid(0x98), connection_id: fine.connection_id, updated_at: '2024-12-10T06:00:00.000Z' };
    applyJobChange(client, job({ ...other, status: 'processing' }));
    expect(client.getQueryState(queryKeys.connectionsList(filtered))!.isInvalidated).toBe(false);
    applyJobChange(client, job({ ...other, status: 'failed', updated_at: '2024-12-10T06:01:00.000Z' }));
    expect(client.getQueryState(queryKeys.connectionsList(filtered))!.isInvalidated).toBe(true);
  });
});
