import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ConnectionWire } from '@jobtrail/domain';
import { planSearch } from '../src/search/find-anything.js';
import { installFakeApi } from './support/fake-api.js';
import { connection, detail, job, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

/**
 * A fake `GET /connections?q=` that behaves as the API: the full login exactly (the server matches
 * its keyed hash), the reference exactly, or the start of the connection id.
 */
function setup(connections: readonly ConnectionWire[], jobs = [job({ job_id: uuid(0xaaa1) })]) {
  return installFakeApi([
    ['GET', '/api/me', () => ({ body: me() })],
    [
      'GET',
      '/api/connections',
      (req) => {
        const q = req.url.searchParams.get('q');
        return {
          body: connections.filter(
            (c) => q === null || c.login_id === q || c.user_ref === q || c.connection_id.startsWith(q.toLowerCase()),
          ),
        };
      },
    ],
    [
      'GET',
      /^\/api\/connections\/[^/]+$/,
      (req) => ({ body: connections.find((c) => req.url.pathname.endsWith(c.connection_id)) }),
    ],
    ['GET', /^\/api\/connections\/[^/]+\/jobs$/, () => ({ body: [] })],
    [
      'GET',
      '/api/jobs',
      (req) => ({ body: jobs.filter((j) => j.job_id.startsWith(req.url.searchParams.get('job_id') ?? '-')) }),
    ],
    ['GET', /^\/api\/jobs\/[^/]+$/, (req) => ({ body: detail({ job_id: req.url.pathname.split('/').pop()! }) })],
    ['GET', /\/logs$/, () => ({ body: [] })],
  ]);
}

const alice = connection({
  connection_id: uuid(1, '01b00000-0000-7000-8000'),
  login_id: 'Alice.Martin',
  user_ref: 'acct-7731',
  status: 'invalid',
});
const bob = connection({
  connection_id: uuid(2, '01b00000-0000-7000-8000'),
  login_id: 'bob-42',
  user_ref: 'acct-7731',
});

describe('finding a customer from the one search box', () => {
  it('opens the connection of a full login, asked as typed (case kept) and never put in the URL', async () => {
    const fake = setup([alice, bob]);
    const user = userEvent.setup();
    renderApp('/');
    const box = await screen.findByRole('searchbox', { name: 'Find a connection or a job' });
    await user.type(box, '  Alice.Martin {Enter}');
    await waitFor(() => expect(window.location.pathname).toBe(`/connections/${alice.connection_id}`));
    const asked = fake.requests('GET', /^\/api\/connections$/).map((r) => r.url.searchParams.get('q'));
    expect(asked).toContain('Alice.Martin');
    // Not a job id (dots, capitals): no job search was made.
    expect(fake.requests('GET', /^\/api\/jobs$/)).toHaveLength(0);
    expect(window.location.href).not.toContain('Alice');
  });

  it('lists several matches labelled by masked login and reference, without the text in the URL', async () => {
    setup([alice, bob]);
    const user = userEvent.setup();
    renderApp('/');
    await user.type(await screen.findByRole('searchbox', { name: 'Find a connection or a job' }), 'acct-7731{Enter}');
    await waitFor(() => expect(window.location.pathname).toBe('/search'));
    expect(window.location.search).toBe('');
    const table = await screen.findByRole('table', { name: 'Connections' });
    expect(within(table).getByRole('link', { name: 'Connection Al•••in (acct-7731)' })).toHaveAttribute(
      'href',
      `/connections/${alice.connection_id}`,
    );
    expect(
      within(table)
        .getAllByRole('link')
        .map((l) => l.getAttribute('aria-label')),
    ).toEqual(['Connection Al•••in (acct-7731)', 'Connection bo•••42 (acct-7731)']);
    // The full login is shown nowhere.
    expect(document.body.textContent).not.toContain('Alice.Martin');
  });

  it('opens a connection from its whole id, and a job from a whole id that is not a connection’s', async () => {
    const fake = setup([alice]);
    const user = userEvent.setup();
    renderApp('/');
    const box = await screen.findByRole('searchbox', { name: 'Find a connection or a job' });
    await user.type(box, `${alice.connection_id.toUpperCase()}{Enter}`);
    await waitFor(() => expect(window.location.pathname).toBe(`/connections/${alice.connection_id}`));

    await user.clear(box);
    await user.type(box, `${uuid(0xaaa1)}{Enter}`);
    await waitFor(() => expect(window.location.pathname).toBe(`/jobs/${uuid(0xaaa1)}`));
    expect(fake.requests('GET', /^\/api\/jobs$/)).toHaveLength(0);
  });

  it('shows connections and jobs together when a prefix matches both', async () => {
    const shared = '01b00000';
    const jobs = [job({ job_id: uuid(0xaaa1, '01b00000-6ede-7000-85e0') })];
    setup([alice], jobs);
    const user = userEvent.setup();
    renderApp('/');
    await user.type(await screen.findByRole('searchbox', { name: 'Find a connection or a job' }), `${shared}…{Enter}`);
    await waitFor(() => expect(window.location.pathname).toBe('/search'));
    // Two searches answer before this page shows: on a loaded machine that can take over a second.
    // Level 3: the results' section, not the connections page's own "Connections" heading on its way out.
    expect(
      await screen.findByRole('heading', { name: /^Connections/, level: 3 }, { timeout: 5_000 }),
    ).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Connection Al•••in (acct-7731)' })).toBeInTheDocument();
    expect(await screen.findByRole('link', { name: jobs[0]!.job_id })).toBeInTheDocument();
  });
});

describe('planSearch', () => {
  it('keeps the case of a login, trims quotes and the ellipsis, and reads "job …" as a job id only', () => {
    expect(planSearch('  “Alice.Martin” ')).toMatchObject({
      text: 'Alice.Martin',
      connectionQuery: 'Alice.Martin',
      jobPrefix: null,
    });
    expect(planSearch('01A22885…')).toMatchObject({ connectionQuery: '01A22885', jobPrefix: '01a22885', fullId: null });
    expect(planSearch('job: 01a22885')).toMatchObject({ connectionQuery: null, jobPrefix: '01a22885' });
    const id = '01a2228f-6ede-7000-85e0-911490e2bd26';
    expect(planSearch(` ${id.toUpperCase()} `).fullId).toBe(id);
    expect(planSearch('   ')).toMatchObject({ text: '', connectionQuery: null });
  });
});
