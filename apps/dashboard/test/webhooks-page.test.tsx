import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ApiKeyRole, WebhookDeliveryWire, WebhookWire } from '@jobtrail/domain';
import { installFakeApi } from './support/fake-api.js';
import { me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const WEBHOOK_ID = uuid(700);
const SECRET = 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0';

function webhook(overrides: Partial<WebhookWire> = {}): WebhookWire {
  return {
    webhook_id: WEBHOOK_ID,
    url: 'https://hooks.example.com/jobtrail',
    events: ['*'],
    description: null,
    enabled: true,
    disabled_reason: null,
    created_at: '2024-12-10T04:00:00.000Z',
    updated_at: '2024-12-10T04:00:00.000Z',
    last_success_at: '2024-12-10T05:00:00.000Z',
    last_failure_at: null,
    failing_since: null,
    previous_secret_expires_at: null,
    ...overrides,
  };
}

function delivery(n: number, overrides: Partial<WebhookDeliveryWire> = {}): WebhookDeliveryWire {
  return {
    delivery_id: uuid(800 + n),
    webhook_id: WEBHOOK_ID,
    event_id: `msg_${n}`,
    event_type: 'job.succeeded',
    job_id: uuid(100),
    status: 'delivered',
    attempts: 1,
    last_status_code: 200,
    last_error: null,
    next_attempt_at: null,
    created_at: '2024-12-10T05:00:00.000Z',
    delivered_at: '2024-12-10T05:00:01.000Z',
    attempt_log: [],
    ...overrides,
  };
}

function setup(role: ApiKeyRole = 'admin') {
  let hooks: WebhookWire[] = [];
  const fake = installFakeApi([
    ['GET', '/api/me', () => ({ body: me(role) })],
    ['GET', '/api/webhooks', () => ({ body: hooks })],
    [
      'POST',
      '/api/webhooks',
      (req) => {
        const created = webhook({ url: (req.body as { url: string }).url, last_success_at: null });
        hooks = [created];
        return { status: 201, body: { ...created, secret: SECRET } };
      },
    ],
    [
      'GET',
      `/api/webhooks/${WEBHOOK_ID}/deliveries`,
      () => ({
        body: [
          delivery(1),
          delivery(2, {
            status: 'failed',
            last_status_code: 500,
            attempts: 8,
            last_error: 'HTTP 500',
            delivered_at: null,
          }),
        ],
      }),
    ],
    [
      'POST',
      `/api/webhooks/${WEBHOOK_ID}/deliveries/${uuid(802)}/redeliver`,
      () => ({ status: 202, body: delivery(2, { status: 'pending', delivered_at: null }) }),
    ],
    [
      'PATCH',
      `/api/webhooks/${WEBHOOK_ID}`,
      (req) => {
        hooks = [webhook({ enabled: (req.body as { enabled: boolean }).enabled })];
        return { body: hooks[0] };
      },
    ],
  ]);
  return { fake, setHooks: (h: WebhookWire[]) => (hooks = h) };
}

describe('webhooks page', () => {
  it('creates a subscription and shows its secret once, with a copy button', async () => {
    const { fake } = setup();
    const user = userEvent.setup();
    renderApp('/webhooks');
    await screen.findByText('No subscriptions yet.');
    await user.type(screen.getByLabelText('Endpoint URL'), 'https://hooks.example.com/new');
    await user.click(screen.getByRole('button', { name: 'Create subscription' }));

    expect(await screen.findByTestId('webhook-secret')).toHaveTextContent(SECRET);
    expect(screen.getByRole('button', { name: 'Copy signing secret' })).toBeInTheDocument();
    expect(fake.requests('POST', /\/api\/webhooks$/)[0]?.body).toEqual({
      url: 'https://hooks.example.com/new',
      events: ['*'],
    });
    expect(await screen.findByText('https://hooks.example.com/new')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'I stored it' }));
    expect(screen.queryByTestId('webhook-secret')).not.toBeInTheDocument();
  });

  it('shows the delivery log with status codes and redelivers a failed delivery; disables a subscription', async () => {
    const { fake, setHooks } = setup();
    setHooks([webhook()]);
    const user = userEvent.setup();
    renderApp('/webhooks');
    await user.click(await screen.findByRole('button', { name: 'Deliveries' }));
    const log = await screen.findByRole('region', { name: 'Delivery log' });
    const failed = (await within(log).findByText('500')).closest('tr')!;
    expect(within(failed).getByText('failed')).toBeInTheDocument();
    await user.click(within(failed).getByRole('button', { name: 'Redeliver' }));
    await waitFor(() => expect(fake.requests('POST', /redeliver$/)).toHaveLength(1));

    await user.click(screen.getByRole('button', { name: 'Disable' }));
    await waitFor(() => expect(fake.requests('PATCH', /webhooks/)[0]?.body).toEqual({ enabled: false }));
    expect(await screen.findByText('Disabled')).toBeInTheDocument();
  });

  it('is shown in the navigation to admins only', async () => {
    setup('operator');
    renderApp('/webhooks');
    expect(await screen.findByText('Only admin keys manage webhook subscriptions.')).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Webhooks' })).not.toBeInTheDocument();
  });
});
