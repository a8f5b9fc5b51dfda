import { describe, expect, it, jest } from '@jest/globals';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ConfirmButton } from '../src/components/confirm-button.js';
import { installFakeApi } from './support/fake-api.js';
import { CONNECTION_ID, connection, detail, job, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

describe('confirm dialog', () => {
  it('opens with keyboard focus on the safe answer, so Enter twice never confirms', async () => {
    const onConfirm = jest.fn();
    const user = userEvent.setup();
    render(
      <ConfirmButton label="Purge" question="Purge everything?" confirmLabel="Purge data" onConfirm={onConfirm} />,
    );
    const trigger = screen.getByRole('button', { name: 'Purge' });
    trigger.focus();
    await user.keyboard('{Enter}');
    const dialog = screen.getByRole('dialog', { name: 'Purge everything?' });
    expect(dialog).toHaveAttribute('aria-modal', 'true');
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();

    await user.keyboard('{Enter}');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(onConfirm).not.toHaveBeenCalled();
    // Focus goes back to what opened it.
    expect(trigger).toHaveFocus();
  });

  it('cancels on Escape, keeps Tab inside, and confirms only on the confirm button', async () => {
    const onConfirm = jest.fn();
    const user = userEvent.setup();
    render(
      <ConfirmButton label="Purge" question="Purge everything?" confirmLabel="Purge data" onConfirm={onConfirm} />,
    );
    await user.click(screen.getByRole('button', { name: 'Purge' }));
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Purge' }));
    const dialog = screen.getByRole('dialog');
    await user.tab();
    expect(within(dialog).getByRole('button', { name: 'Purge data' })).toHaveFocus();
    await user.tab();
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await user.click(within(dialog).getByRole('button', { name: 'Purge data' }));
    expect(onConfirm).toHaveBeenCalledTimes(1);
  });
});

describe('deleting a connection', () => {
  function serve() {
    const refresh = job({ job_id: uuid(300), status: 'success' });
    return installFakeApi([
      ['GET', '/api/me', () => ({ body: me('admin') })],
      ['GET', '/api/connections', () => ({ body: [connection()] })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection() })],
      ['GET', `/api/connections/${CONNECTION_ID}/jobs`, () => ({ body: [] })],
      [
        'GET',
        '/api/jobs',
        (req) => ({
          body:
            req.url.searchParams.get('connection_id') === CONNECTION_ID &&
            req.url.searchParams.get('status') === 'success' &&
            req.url.searchParams.get('action') === 'refresh'
              ? [refresh]
              : [],
        }),
      ],
      ['GET', `/api/jobs/${refresh.job_id}`, () => ({ body: detail({ job_id: refresh.job_id }) })],
      ['DELETE', `/api/connections/${CONNECTION_ID}`, () => ({ status: 204 })],
    ]);
  }

  it('names the reference and masked login, counts what is lost, says it cannot be undone, focuses Cancel, and confirms after', async () => {
    const fake = serve();
    const user = userEvent.setup();
    renderApp('/');
    await user.click(await screen.findByRole('button', { name: 'Delete connection us•••ok (customer-42)' }));
    const dialog = screen.getByRole('dialog', { name: 'Delete connection us•••ok (customer-42)?' });
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await waitFor(() => expect(dialog).toHaveTextContent('its 3 accounts and 412 transactions'));
    expect(dialog).toHaveTextContent('This cannot be undone.');
    expect(fake.requests('DELETE', /connections/)).toHaveLength(0);

    // The same label in the dialog as on the button: one name for one action.
    await user.click(within(dialog).getByRole('button', { name: 'Delete connection' }));
    await waitFor(() => expect(fake.requests('DELETE', /connections/)).toHaveLength(1));
    expect(await screen.findByText(/Connection us•••ok \(customer-42\) was deleted/)).toBeInTheDocument();
    expect(screen.getByTestId('notices')).toHaveAttribute('role', 'status');
    await waitFor(() =>
      expect(screen.queryByRole('link', { name: 'Connection us•••ok (customer-42)' })).not.toBeInTheDocument(),
    );
  });

  it('uses the same label on the connection page, and says "its accounts and transactions" when there is no count', async () => {
    installFakeApi([
      ['GET', '/api/me', () => ({ body: me('admin') })],
      ['GET', `/api/connections/${CONNECTION_ID}`, () => ({ body: connection({ user_ref: null }) })],
      ['GET', `/api/connections/${CONNECTION_ID}/jobs`, () => ({ body: [] })],
      ['GET', '/api/jobs', () => ({ body: [] })],
    ]);
    const user = userEvent.setup();
    renderApp(`/connections/${CONNECTION_ID}`);
    await user.click(await screen.findByRole('button', { name: 'Delete connection us•••ok' }));
    const dialog = screen.getByRole('dialog', { name: 'Delete connection us•••ok?' });
    await waitFor(() => expect(dialog).toHaveTextContent('its job history and its accounts and transactions.'));
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
  });
});
