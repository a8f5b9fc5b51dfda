import { describe, expect, it } from '@jest/globals';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { installFakeApi } from './support/fake-api.js';
import { detail, job, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

function setup() {
  const a = job({ job_id: uuid(0xaaa1, '01a22885-6ede-7000-85e0') });
  installFakeApi([
    ['GET', '/api/me', () => ({ body: me() })],
    ['GET', '/api/connections', () => ({ body: [] })],
    [
      'GET',
      '/api/jobs',
      (req) => ({ body: [a].filter((j) => j.job_id.startsWith(req.url.searchParams.get('job_id') ?? '-')) }),
    ],
    ['GET', /^\/api\/jobs\/[^/]+$/, (req) => ({ body: detail({ job_id: req.url.pathname.split('/').pop()! }) })],
    ['GET', /\/logs$/, () => ({ body: [] })],
  ]);
  return { a };
}

describe('the job search box forgives', () => {
  it('finds a job from a pasted truncated id with a leading "job:" and spaces', async () => {
    const { a } = setup();
    const user = userEvent.setup();
    renderApp('/');
    const box = await screen.findByRole('searchbox', { name: 'Find a connection or a job' });
    await user.type(box, `  job: ${a.job_id.slice(0, 8)}…  {Enter}`);
    await waitFor(() => expect(window.location.pathname).toBe(`/jobs/${a.job_id}`));
  });

  it('clears its message when the text changes and when the page changes', async () => {
    setup();
    const user = userEvent.setup();
    renderApp('/');
    const box = await screen.findByRole('searchbox', { name: 'Find a connection or a job' });
    await user.type(box, 'not an id{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('No connection has this login or reference');
    await user.type(box, 'x');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(box).not.toHaveAttribute('aria-invalid');

    await user.type(box, '{Enter}');
    expect(await screen.findByRole('alert')).toBeInTheDocument();
    await user.click(screen.getByRole('link', { name: 'Overview' }));
    await waitFor(() => expect(window.location.pathname).toBe('/overview'));
    expect(screen.queryByText(/No connection has this login/)).not.toBeInTheDocument();
  });

  it('is focused by "/" from anywhere, but not while typing in another field', async () => {
    setup();
    const user = userEvent.setup();
    renderApp('/');
    const box = await screen.findByRole('searchbox', { name: 'Find a connection or a job' });
    expect(box).not.toHaveFocus();
    await user.keyboard('/');
    expect(box).toHaveFocus();
    expect(box).toHaveValue('');

    const login = screen.getByLabelText('Login');
    await user.click(login);
    await user.keyboard('a/b');
    expect(login).toHaveFocus();
    expect(login).toHaveValue('a/b');
  });
});
