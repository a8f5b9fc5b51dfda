import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { QueryClient, type InfiniteData } from '@tanstack/react-query';
import { ERROR_CATALOGUE, type JobSummaryWire } from '@jobtrail/domain';
import type { Page } from '../src/api/client.js';
import { queryKeys } from '../src/api/query-keys.js';
import { applyJobChange } from '../src/live/apply-job-change.js';
import { jobsPageLink, jobsQuery, matchesJobsFilters, parseJobsFilters } from '../src/jobs-list/jobs-filters.js';
import { installFakeApi, type FakeReply } from './support/fake-api.js';
import { CONNECTION_ID, connection, job, jobs, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const FROM = '2024-12-09T12:00:00.000Z';

describe('jobs filters', () => {
  it('reads the URL, drops what is malformed, and sends the same names to GET /jobs', () => {
    const filters = parseJobsFilters(
      new URLSearchParams(`status=failed,pending&action=refresh&from=${FROM}&to=nonsense&connection_id=abc`),
    );
    expect(filters).toEqual({ status: 'pending,failed', action: 'refresh', from: FROM });
    expect(jobsQuery(filters, 50)).toBe(
      `status=pending%2Cfailed&action=refresh&from=${encodeURIComponent(FROM)}&limit=50`,
    );
    expect(jobsPageLink({ status: 'failed', from: FROM })).toBe(`/jobs?status=failed&from=${encodeURIComponent(FROM)}`);
    expect(matchesJobsFilters(job({ status: 'failed', date: '2024-12-10T00:00:00.000Z' }), filters)).toBe(true);
    expect(matchesJobsFilters(job({ status: 'success' }), filters)).toBe(false);
    expect(matchesJobsFilters(job({ status: 'failed', date: '2024-12-01T00:00:00.000Z' }), filters)).toBe(false);
  });
});

describe('jobs page', () => {
  it('lists the filtered jobs with the error code and title on failed rows, pages with Link, and keeps filters in the URL', async () => {
    const failed = jobs(60, 20_000, {
      status: 'failed',
      error: {
        code: 'invalid-credentials',
        title: 'Invalid credentials',
        detail: 'x',
        retryable: false,
        troubleshooting: [],
      },
    });
    const fake = installFakeApi([
      ['GET', '/api/me', () => ({ body: me() })],
      [
        'GET',
        '/api/jobs',
        (req): FakeReply => {
          if (req.url.searchParams.get('cursor') === 'p2') return { body: failed.slice(50) };
          if (req.url.searchParams.get('status') !== 'failed') return { body: [job({ job_id: uuid(1) })] };
          return {
            body: failed.slice(0, 50),
            headers: { Link: '</api/jobs?status=failed&limit=50&cursor=p2>; rel="next"' },
          };
        },
      ],
    ]);
    const user = userEvent.setup();
    renderApp(`/jobs?status=failed&from=${encodeURIComponent(FROM)}`);

    expect(await screen.findByTestId('jobs-count')).toHaveTextContent(
      'Showing 50 jobs, more available matching the filters.',
    );
    const first = fake.requests('GET', /^\/api\/jobs$/)[0]!;
    expect(first.url.searchParams.get('status')).toBe('failed');
    expect(first.url.searchParams.get('from')).toBe(FROM);
    expect(screen.getByRole('checkbox', { name: 'Failed' })).toBeChecked();

    const row = screen.getAllByRole('row').find((r) => r.getAttribute('data-job-id') === failed[0]!.job_id)!;
    expect(within(row).getByTestId('row-error')).toHaveTextContent(
      `invalid-credentials ${ERROR_CATALOGUE['invalid-credentials'].title}`,
    );

    await user.click(screen.getByRole('button', { name: 'Load more' }));
    expect(await screen.findByText('Showing 60 jobs matching the filters.')).toBeInTheDocument();

    await user.click(screen.getByRole('checkbox', { name: 'Failed' }));
    await waitFor(() => expect(window.location.search).toBe(`?from=${encodeURIComponent(FROM)}`));
    expect(await screen.findByText('Showing 1 job matching the filters.')).toBeInTheDocument();
  });
});

describe('jobs page: error code and institution filters', () => {
  it('sends error_code and institution_id from the URL and from the form to GET /jobs, and keeps them in the URL', async () => {
    const fake = installFakeApi([
      ['GET', '/api/me', () => ({ body: me() })],
      ['GET', '/api/jobs', () => ({ body: [job({ job_id: uuid(1) })] })],
    ]);
    const user = userEvent.setup();
    renderApp('/jobs?institution_id=sandbox&error_code=Bad%20Code');
    await screen.findByTestId('jobs-count');
    const first = fake.requests('GET', /^\/api\/jobs$/)[0]!;
    expect(first.url.searchParams.get('institution_id')).toBe('sandbox');
    // Malformed: dropped rather than sent.
    expect(first.url.searchParams.has('error_code')).toBe(false);
    expect(screen.getByLabelText('Institution')).toHaveValue('sandbox');

    const code = screen.getByLabelText('Error code');
    // The catalogue's codes are offered while typing.
    const offered = [...document.querySelectorAll(`#${CSS.escape(code.getAttribute('list')!)} option`)].map((o) =>
      o.getAttribute('value'),
    );
    expect(offered).toContain('user-action-required');
    await user.type(code, 'user-action-required{Enter}');
    await waitFor(() =>
      expect(new URLSearchParams(window.location.search).get('error_code')).toBe('user-action-required'),
    );
    await waitFor(() =>
      expect(
        fake
          .requests('GET', /^\/api\/jobs$/)
          .at(-1)!
          .url.searchParams.get('error_code'),
      ).toBe('user-action-required'),
    );
    expect(
      fake
        .requests('GET', /^\/api\/jobs$/)
        .at(-1)!
        .url.searchParams.get('institution_id'),
    ).toBe('sandbox');
  });
});

describe('jobs page: connections named as everywhere', () => {
  it('labels each row’s connection by masked login and reference, reading each connection once', async () => {
    const rows = [job({ job_id: uuid(1) }), job({ job_id: uuid(2) })];
    const fake = installFakeApi([
      ['GET', '/api/me', () => ({ body: me() })],
      ['GET', '/api/jobs', () => ({ body: rows })],
      ['GET', /^\/api\/connections\/[^/]+$/, () => ({ body: connection() })],
    ]);
    renderApp('/jobs');
    const links = await screen.findAllByRole('link', { name: 'Connection us•••ok (customer-42)' });
    expect(links).toHaveLength(2);
    expect(links[0]).toHaveAttribute('href', `/connections/${CONNECTION_ID}`);
    expect(fake.requests('GET', /^\/api\/connections\//)).toHaveLength(1);
  });
});

describe('jobs page, live', () => {
  it('puts a new matching job on top and updates known rows, leaving non-matching jobs out', () => {
    const client = new QueryClient();
    const filters = { status: 'failed' };
    const known = job({ job_id: uuid(10), status: 'failed', date: '2024-12-10T04:00:00.000Z' });
    client.setQueryData(queryKeys.jobsList(filters), { pages: [{ items: [known], next: null }], pageParams: [null] });
    const read = () =>
      client.getQueryData<InfiniteData<Page<JobSummaryWire>>>(queryKeys.jobsList(filters))!.pages[0]!.items;

    applyJobChange(client, job({ job_id: uuid(11), status: 'success', date: '2024-12-10T05:00:00.000Z' }));
    expect(read().map((j) => j.job_id)).toEqual([known.job_id]);
    const fresh = job({ job_id: uuid(12), status: 'failed', date: '2024-12-10T05:00:00.000Z' });
    applyJobChange(client, fresh);
    expect(read().map((j) => j.job_id)).toEqual([fresh.job_id, known.job_id]);
    applyJobChange(client, { ...known, cancel_requested: true, updated_at: '2024-12-10T06:00:00.000Z' });
    expect(read()[1]?.cancel_requested).toBe(true);
  });
});
