import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ApiKeyWire } from '@jobtrail/domain';
import { installFakeApi } from './support/fake-api.js';
import { me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const key = (n: number, patch: Partial<ApiKeyWire> = {}): ApiKeyWire => ({
  key_id: uuid(900 + n),
  name: `key ${n}`,
  role: 'operator',
  prefix: `jt_${n}abc`,
  created_at: '2024-12-09T12:00:00.000Z',
  last_used_at: null,
  created_by: null,
  ...patch,
});

describe('API keys page', () => {
  it('lists the keys, creates one and shows it once with a copy button, revokes after a confirmation', async () => {
    let keys: ApiKeyWire[] = [key(1, { role: 'admin', name: 'bootstrap admin' }), key(2)];
    const fake = installFakeApi([
      ['GET', '/api/me', () => ({ body: me('admin') })],
      ['GET', '/api/keys', () => ({ body: keys })],
      [
        'POST',
        '/api/keys',
        (req) => {
          const body = req.body as { name: string; role: ApiKeyWire['role'] };
          const created = key(3, { name: body.name, role: body.role });
          keys = [...keys, created];
          return { status: 201, body: { ...created, key: 'jt_secret_shown_once_0123456789' } };
        },
      ],
      [
        'DELETE',
        /^\/api\/keys\//,
        (req) => {
          keys = keys.filter((k) => !req.url.pathname.endsWith(k.key_id));
          return { status: 204 };
        },
      ],
    ]);
    const user = userEvent.setup();
    renderApp('/keys');

    expect(await screen.findByRole('cell', { name: 'bootstrap admin' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'API keys' })).toBeInTheDocument();

    await user.type(screen.getByLabelText('Name'), 'ci-bot');
    await user.selectOptions(screen.getByLabelText('Role'), 'viewer');
    await user.click(screen.getByRole('button', { name: 'Create key' }));
    expect(await screen.findByTestId('new-key')).toHaveTextContent('jt_secret_shown_once_0123456789');
    expect(fake.requests('POST', /^\/api\/keys$/)[0]!.body).toEqual({ name: 'ci-bot', role: 'viewer' });
    expect(screen.getByRole('button', { name: 'Copy the key "ci-bot"' })).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Done' }));
    expect(screen.queryByTestId('new-key')).not.toBeInTheDocument();

    const row = (await screen.findByRole('cell', { name: 'ci-bot' })).closest('tr')!;
    await user.click(within(row).getByRole('button', { name: 'Revoke key' }));
    const dialog = await screen.findByRole('dialog');
    // The safe choice has the focus: a stray Enter never revokes.
    expect(within(dialog).getByRole('button', { name: /cancel/i })).toHaveFocus();
    await user.click(within(dialog).getByRole('button', { name: 'Revoke key' }));
    await waitFor(() => expect(fake.requests('DELETE', /^\/api\/keys\//)).toHaveLength(1));
    expect(await screen.findByText('Key "ci-bot" revoked: it no longer works.')).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByRole('cell', { name: 'ci-bot' })).not.toBeInTheDocument());
  });

  it('is not offered to operators, and says so when opened', async () => {
    installFakeApi([['GET', '/api/me', () => ({ body: me('operator') })]]);
    renderApp('/keys');
    expect(await screen.findByText('Only admins manage API keys.')).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'API keys' })).not.toBeInTheDocument();
  });
});
