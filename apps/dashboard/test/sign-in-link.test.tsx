import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { WhoAmIWire } from '@jobtrail/domain';
import { installFakeApi, problem } from './support/fake-api.js';
import { me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const KEY_A = 'jt_key_of_tenant_a_0123456789';
const KEY_B = 'jt_key_of_tenant_b_0123456789';
const TENANT_B: WhoAmIWire = {
  tenant_id: uuid(2, '01a2228f-2222-7000-8000'),
  tenant_name: 'globex',
  key_id: uuid(3, '01a2228f-2222-7000-8000'),
  key_name: 'support',
  role: 'operator',
};

/** Tenant A is "acme" (key A), tenant B "globex" (key B); any other key is refused. */
function serve() {
  return installFakeApi([
    [
      'GET',
      '/api/me',
      (req) =>
        req.headers.authorization === `Bearer ${KEY_A}`
          ? { body: me('admin') }
          : req.headers.authorization === `Bearer ${KEY_B}`
            ? { body: TENANT_B }
            : problem(401, 'unauthorized', 'A valid API key is required'),
    ],
    ['GET', '/api/connections', () => ({ body: [] })],
  ]);
}

/** The tab is signed in as tenant A when a `#key=` link is opened in it. */
function openLinkSignedInAsA(linkKey: string) {
  sessionStorage.setItem('jobtrail.api-key', KEY_A);
  renderApp(`/#key=${linkKey}`, null);
}

describe('sign-in by link in a signed-in tab', () => {
  it('asks first, naming both tenants, and stays on tenant A until the switch is confirmed', async () => {
    const fake = serve();
    const user = userEvent.setup();
    openLinkSignedInAsA(KEY_B);

    const dialog = await screen.findByRole('dialog', { name: 'Switch to tenant globex?' });
    expect(dialog).toHaveTextContent('This link signs in to tenant globex');
    expect(dialog).toHaveTextContent('You are signed in to tenant acme');
    // The safe answer has the focus; nothing switched yet, and the key left the address bar.
    expect(within(dialog).getByRole('button', { name: 'Stay in acme' })).toHaveFocus();
    expect(screen.getByLabelText('Signed in')).toHaveTextContent('acme · admin');
    expect(sessionStorage.getItem('jobtrail.api-key')).toBe(KEY_A);
    expect(window.location.hash).toBe('');
    expect(
      fake.requests('GET', /^\/api\/connections$/).every((r) => r.headers.authorization === `Bearer ${KEY_A}`),
    ).toBe(true);

    await user.click(within(dialog).getByRole('button', { name: 'Switch to globex' }));
    await waitFor(() => expect(screen.getByLabelText('Signed in')).toHaveTextContent('globex · operator'));
    expect(sessionStorage.getItem('jobtrail.api-key')).toBe(KEY_B);
    await waitFor(() =>
      expect(fake.requests('GET', /^\/api\/connections$/).at(-1)?.headers.authorization).toBe(`Bearer ${KEY_B}`),
    );
  });

  it('stays on tenant A when the user says so, and does not ask again', async () => {
    serve();
    const user = userEvent.setup();
    openLinkSignedInAsA(KEY_B);
    await user.click(await screen.findByRole('button', { name: 'Stay in acme' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(screen.getByLabelText('Signed in')).toHaveTextContent('acme · admin');
    expect(sessionStorage.getItem('jobtrail.api-key')).toBe(KEY_A);
    expect(sessionStorage.getItem('jobtrail.link-key')).toBeNull();
  });

  it('keeps the user signed in when the link key is rejected (401), and says so', async () => {
    serve();
    openLinkSignedInAsA('jt_bogus_key');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('link’s key was not accepted');
    expect(alert).toHaveTextContent('still signed in to tenant acme');
    expect(screen.getByLabelText('Signed in')).toHaveTextContent('acme · admin');
    expect(screen.queryByRole('heading', { name: 'Sign in' })).not.toBeInTheDocument();
    expect(sessionStorage.getItem('jobtrail.api-key')).toBe(KEY_A);
  });

  it('shows the tenant on the create-connection form', async () => {
    serve();
    sessionStorage.setItem('jobtrail.api-key', KEY_A);
    renderApp('/', null);
    const form = await screen.findByRole('form', { name: 'New sandbox connection' });
    expect(within(form).getByTestId('form-tenant')).toHaveTextContent('In tenant acme');
  });
});
