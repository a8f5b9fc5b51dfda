import { describe, expect, it } from '@jest/globals';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { HistoryTable } from '../src/connection/history-table.js';
import { installFakeApi, type Route } from './support/fake-api.js';
import { CONNECTION_ID, connection, job, jobs, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const NOW = Date.parse('2024-12-10T04:36:00.000Z');

function renderTable(rows: ReturnType<typeof jobs>) {
  return render(
    <MemoryRouter>
      <HistoryTable jobs={rows} now={NOW} />
    </MemoryRouter>,
  );
}

describe('HistoryTable', () => {
  it('shows Job ID (monospace link + copy), local date with UTC/ISO on hover and relative time, action, badge, duration, attempt', async () => {
    // user-event puts a clipboard stub in place of the browser's, which the test can read back.
    const user = userEvent.setup();
    const failed = job({
      job_id: uuid(7),
      status: 'failed',
      attempt: 1,
      error: {
        code: 'invalid-credentials',
        title: 'Invalid credentials',
        detail: 'x',
        retryable: false,
        troubleshooting: [],
      },
    });
    renderTable([failed]);

    const row = screen.getAllByRole('row')[1]!;
    const cells = within(row).getAllByRole('cell');
    const link = within(cells[0]!).getByRole('link', { name: failed.job_id });
    expect(link).toHaveAttribute('href', `/jobs/${failed.job_id}`);
    expect(link).toHaveClass('mono');

    const time = cells[1]!.querySelector('time')!;
    expect(time).toHaveAttribute('datetime', failed.date);
    expect(time.getAttribute('title')).toBe('UTC: 2024-12-10 04:33:00 UTC\nISO: 2024-12-10T04:33:00.000Z');
    expect(cells[1]).toHaveTextContent('3 min ago');
    expect(cells[2]).toHaveTextContent('refresh');
    expect(cells[3]).toHaveTextContent('❌ Failed');
    expect(cells[4]).toHaveTextContent('2.5 s');
    // A non-retryable failure: "Not retried", as on the job page, never "1/3".
    expect(cells[5]).toHaveTextContent(/^Not retried$/);
    expect(cells[5]).toHaveAttribute('title', 'Not retried');

    await user.click(within(cells[0]!).getByRole('button', { name: /Copy job ID/ }));
    expect(await navigator.clipboard.readText()).toBe(failed.job_id);
    expect(await within(cells[0]!).findByText('Copied ✓')).toBeInTheDocument();
  });

  it('shows a dash for the duration of a job that never started and a running time for a processing one', () => {
    renderTable([
      job({ job_id: uuid(2), status: 'pending', started_at: null, finished_at: null, attempt: 0 }),
      job({ job_id: uuid(1), status: 'processing', started_at: '2024-12-10T04:35:30.000Z', finished_at: null }),
    ]);
    const [, pending, processing] = screen.getAllByRole('row');
    expect(within(pending!).getAllByRole('cell')[4]).toHaveTextContent('—');
    expect(within(processing!).getAllByRole('cell')[4]).toHaveTextContent('30 s');
  });

  it('keeps only a window of rows in the DOM for 10 000 jobs, and tells assistive technology the real size', () => {
    const many = jobs(10_000);
    renderTable(many);
    const table = screen.getByRole('table');
    expect(table).toHaveAttribute('aria-rowcount', '10001');
    const rendered = table.querySelectorAll('tr.history-row');
    expect(rendered.length).toBeGreaterThan(5);
    expect(rendered.length).toBeLessThan(60);
    expect(rendered[0]).toHaveAttribute('aria-rowindex', '2');
    // The spacer below stands for every row not rendered, so the scrollbar has the full height.
    const spacer = table.querySelector('tbody tr.spacer:last-child') as HTMLElement;
    expect(parseInt(spacer.style.height, 10)).toBeGreaterThan(9_000 * 56);
  });
});

describe('connection history paging', () => {
  it('loads the first page, then the next one through the Link header with "Load more"', async () => {
    const all = jobs(70);
    const routes: Route[] = [
      ['GET', '/api/me', () => ({ body: me() })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection() })],
      [
        'GET',
        `/api/connections/${CONNECTION_ID}/jobs`,
        (req) => {
          if (req.url.searchParams.get('status') === 'pending,processing') return { body: [] };
          if (req.url.searchParams.get('cursor') === 'page2') return { body: all.slice(50) };
          return {
            body: all.slice(0, 50),
            headers: { Link: `</api/connections/${CONNECTION_ID}/jobs?limit=50&cursor=page2>; rel="next"` },
          };
        },
      ],
    ];
    const fake = installFakeApi(routes);
    const user = userEvent.setup();
    renderApp(`/connections/${CONNECTION_ID}`);

    expect(await screen.findByTestId('history-count')).toHaveTextContent('Showing 50 jobs, more available.');
    await user.click(screen.getByRole('button', { name: 'Load more' }));
    expect(await screen.findByText('Showing 70 jobs.')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();
    const pages = fake
      .requests('GET', /\/jobs$/)
      .filter((r) => r.url.searchParams.get('status') !== 'pending,processing');
    expect(pages.map((r) => r.url.searchParams.get('cursor'))).toEqual([null, 'page2']);
    expect(screen.getByRole('table', { name: /Job history/ })).toHaveAttribute('aria-rowcount', '71');
  });

  it('shows the problem title and detail when the history cannot be loaded, and an empty state when there is none', async () => {
    let fail = true;
    installFakeApi([
      ['GET', '/api/me', () => ({ body: me() })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection() })],
      [
        'GET',
        `/api/connections/${CONNECTION_ID}/jobs`,
        () =>
          fail
            ? {
                status: 400,
                body: {
                  type: 'x',
                  title: 'The request is not valid',
                  status: 400,
                  code: 'validation-failed',
                  detail: 'See errors.',
                  errors: [{ field: 'query.limit', message: 'must be between 1 and 200' }],
                },
              }
            : { body: [] },
      ],
    ]);
    const user = userEvent.setup();
    renderApp(`/connections/${CONNECTION_ID}`);
    const alert = await screen.findByText('Could not load the job history');
    const box = alert.closest('[role="alert"]') as HTMLElement;
    expect(box).toHaveTextContent('The request is not valid');
    expect(box).toHaveTextContent('query.limit must be between 1 and 200');
    fail = false;
    await user.click(within(box).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText('No jobs yet.')).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByText('Could not load the job history')).not.toBeInTheDocument());
  });
});
