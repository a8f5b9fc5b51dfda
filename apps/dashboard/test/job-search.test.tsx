import { describe, expect, it } from '@jest/globals';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { installFakeApi } from './support/fake-api.js';
import { detail, job, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

function setup() {
  const a = job({ job_id: uuid(0xaaa1) });
  const b = job({ job_id: uuid(0xbbb2) });
  const fake = installFakeApi([
    ['GET', '/api/me', () => ({ body: me() })],
    ['GET', '/api/connections', () => ({ body: [] })],
    [
      'GET',
      '/api/jobs',
      (req) => ({ body: [a, b].filter((j) => j.job_id.startsWith(req.url.searchParams.get('job_id') ?? '')) }),
    ],
    ['GET', /^\/api\/jobs\/[^/]+$/, (req) => ({ body: detail({ job_id: req.url.pathname.split('/').pop()! }) })],
    ['GET', /\/logs$/, () => ({ body: [] })],
  ]);
  return { a, b, fake };
}

describe('job search', () => {
  it('opens the only job matching a prefix', async () => {
    const { a } = setup();
    const user = userEvent.setup();
    renderApp('/');
    await user.type(
      await screen.findByRole('searchbox', { name: 'Find a connection or a job' }),
      `${a.job_id.slice(0, 33)}{Enter}`,
    );
    await waitFor(() => expect(window.location.pathname).toBe(`/jobs/${a.job_id}`));
    expect(await screen.findByTestId('job-status')).toBeInTheDocument();
  });

  it('lists the jobs when a prefix matches several, and opens a full id directly', async () => {
    const { a, b, fake } = setup();
    const user = userEvent.setup();
    renderApp('/');
    const box = await screen.findByRole('searchbox', { name: 'Find a connection or a job' });
    await user.type(box, `${a.job_id.slice(0, 30).toUpperCase()}{Enter}`);
    expect(await screen.findByRole('link', { name: a.job_id })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: b.job_id })).toBeInTheDocument();
    expect(window.location.search).toBe(`?job_id=${a.job_id.slice(0, 30)}`);

    const searches = fake.requests('GET', /^\/api\/jobs$/).length;
    await user.clear(box);
    await user.type(box, `${b.job_id}{Enter}`);
    await waitFor(() => expect(window.location.pathname).toBe(`/jobs/${b.job_id}`));
    expect(fake.requests('GET', /^\/api\/jobs$/)).toHaveLength(searches);
  });

  it('says when nothing matches, in the words of what the text could be', async () => {
    setup();
    const user = userEvent.setup();
    renderApp('/');
    const box = await screen.findByRole('searchbox', { name: 'Find a connection or a job' });
    await user.type(box, 'ffff{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('No connection or job matches “ffff”');
    await user.clear(box);
    await user.type(box, 'job ffff{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('No job id starts with “ffff”.');
    await user.clear(box);
    await user.type(box, 'not an id{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('No connection has this login or reference');
    expect(box).toHaveAttribute('aria-invalid', 'true');
    await user.clear(box);
    await user.type(box, 'job: not-an-id{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('hex digits and dashes');
  });
});
