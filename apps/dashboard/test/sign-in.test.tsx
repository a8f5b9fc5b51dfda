import { describe, expect, it } from '@jest/globals';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { installFakeApi, problem, type Route } from './support/fake-api.js';
import { me } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const GOOD_KEY = 'jt_good_key_0123456789abcdef';

/** `/me` answers for the good key only, like the real API. */
function api(extra: Route[] = []) {
  return installFakeApi([
    [
      'GET',
      '/api/me',
      (req) =>
        req.headers.authorization === `Bearer ${GOOD_KEY}`
          ? { body: me('operator') }
          : problem(401, 'unauthorized', 'A valid API key is required', 'The API key is unknown or revoked.'),
    ],
    ['GET', '/api/connections', () => ({ body: [] })],
    ...extra,
  ]);
}

describe('sign-in', () => {
  it('asks for a key, refuses a wrong one with the problem title and detail, and keeps nothing', async () => {
    api();
    const user = userEvent.setup();
    renderApp('/', null);
    expect(screen.getByRole('heading', { name: 'Sign in' })).toBeInTheDocument();

    await user.type(screen.getByLabelText('API key'), 'wrong-key');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('A valid API key is required');
    expect(alert).toHaveTextContent('The API key is unknown or revoked.');
    expect(sessionStorage.getItem('jobtrail.api-key')).toBeNull();
  });

  it('signs in with a good key, keeps it for the tab session, sends it as a bearer token, and signs out', async () => {
    const fake = api();
    const user = userEvent.setup();
    renderApp('/', null);

    await user.type(screen.getByLabelText('API key'), `  ${GOOD_KEY} `);
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { name: 'Connections' })).toBeInTheDocument();
    expect(screen.getByLabelText('Signed in')).toHaveTextContent('acme · operator');
    expect(sessionStorage.getItem('jobtrail.api-key')).toBe(GOOD_KEY);
    await waitFor(() => expect(fake.requests('GET', /^\/api\/connections$/).length).toBeGreaterThan(0));
    expect(fake.requests('GET', /^\/api\/connections$/)[0]?.headers.authorization).toBe(`Bearer ${GOOD_KEY}`);

    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(sessionStorage.getItem('jobtrail.api-key')).toBeNull();
  });

  it('signs in straight from a /#key= link and removes the key from the address bar', async () => {
    api();
    renderApp(`/overview#key=${GOOD_KEY}`, null);
    expect(await screen.findByLabelText('Signed in')).toHaveTextContent('acme');
    expect(window.location.hash).toBe('');
    expect(window.location.pathname).toBe('/overview');
    expect(sessionStorage.getItem('jobtrail.api-key')).toBe(GOOD_KEY);
  });

  it('sends a user whose stored key stopped working back to sign-in, saying why', async () => {
    api();
    renderApp('/', 'revoked-key');
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent('Your API key was not accepted');
    expect(sessionStorage.getItem('jobtrail.api-key')).toBeNull();
  });

  it('says so when the key is empty', async () => {
    api();
    const user = userEvent.setup();
    renderApp('/', null);
    // The input is `required`; the form still guards against whitespace-only keys.
    await user.type(screen.getByLabelText('API key'), '   ');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Enter an API key.');
  });
});
