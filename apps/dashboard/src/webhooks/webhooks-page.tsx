import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { WEBHOOK_EVENT_TYPES, type WebhookWire } from '@jobtrail/domain';
import { useApi, useCan } from '../auth/auth-context.js';
import { CopyButton } from '../components/copy-button.js';
import { DateTime } from '../components/date-time.js';
import { Loading } from '../components/loading.js';
import { useFallbackPollMs } from '../live/live-context.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { useDocumentTitle } from '../lib/use-document-title.js';
import { DeliveriesTable } from './deliveries-table.js';
import {
  createWebhook,
  deleteWebhook,
  fetchDeliveries,
  fetchWebhooks,
  redeliver,
  rotateWebhookSecret,
  sendTestEvent,
  updateWebhook,
  webhookKeys,
} from './webhooks-api.js';

/** A secret the server showed once: kept on screen until dismissed, with a copy button. */
function SecretNotice({ secret, onDone }: { readonly secret: string; readonly onDone: () => void }) {
  return (
    <div className="notice secret-notice" role="status" aria-label="Signing secret">
      <p>
        <strong>Signing secret — shown this once.</strong> Store it where your receiver can read it; Jobtrail cannot
        show it again.
      </p>
      <p>
        <code className="mono" data-testid="webhook-secret">
          {secret}
        </code>{' '}
        <CopyButton text={secret} label="Copy signing secret" />
      </p>
      <button type="button" className="button-small" onClick={onDone}>
        I stored it
      </button>
    </div>
  );
}

/** Subscribe a URL; the answer's secret is handed up to be shown once. */
function CreateWebhookForm({ onCreated }: { readonly onCreated: (secret: string) => void }) {
  const client = useApi();
  const queryClient = useQueryClient();
  const [url, setUrl] = useState('');
  const [all, setAll] = useState(true);
  const [events, setEvents] = useState<string[]>(['job.succeeded', 'job.failed']);
  const create = useMutation({
    mutationFn: () =>
      createWebhook(client, {
        url,
        events: (all ? ['*'] : events) as never,
      }),
    onSuccess: (created) => {
      setUrl('');
      onCreated(created.secret);
      void queryClient.invalidateQueries({ queryKey: webhookKeys.all });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="webhook-form" onSubmit={submit} aria-label="New subscription">
      <label>
        Endpoint URL
        <input
          type="url"
          required
          value={url}
          placeholder="https://example.com/hooks/jobtrail"
          onChange={(e) => setUrl(e.target.value)}
        />
      </label>
      <fieldset>
        <legend>Events</legend>
        <label>
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> All events
        </label>
        {!all &&
          WEBHOOK_EVENT_TYPES.map((type) => (
            <label key={type}>
              <input
                type="checkbox"
                checked={events.includes(type)}
                onChange={(e) =>
                  setEvents((cur) => (e.target.checked ? [...cur, type] : cur.filter((t) => t !== type)))
                }
              />{' '}
              {type}
            </label>
          ))}
      </fieldset>
      <button type="submit" disabled={create.isPending}>
        Create subscription
      </button>
      {create.isError && <ProblemAlert error={create.error} context="Could not create the subscription" />}
    </form>
  );
}

/** One subscription: health, actions, and its delivery log when opened. */
function WebhookRow({ webhook, onSecret }: { readonly webhook: WebhookWire; readonly onSecret: (s: string) => void }) {
  const client = useApi();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: webhookKeys.all });
  const toggle = useMutation({
    mutationFn: () => updateWebhook(client, webhook.webhook_id, { enabled: !webhook.enabled }),
    onSuccess: refresh,
  });
  const rotate = useMutation({
    mutationFn: () => rotateWebhookSecret(client, webhook.webhook_id),
    onSuccess: (r) => {
      onSecret(r.secret);
      refresh();
    },
  });
  const test = useMutation({
    mutationFn: () => sendTestEvent(client, webhook.webhook_id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: webhookKeys.deliveries(webhook.webhook_id) }),
  });
  const remove = useMutation({ mutationFn: () => deleteWebhook(client, webhook.webhook_id), onSuccess: refresh });
  const error = toggle.error ?? rotate.error ?? test.error ?? remove.error;
  return (
    <li className="webhook" data-webhook-id={webhook.webhook_id}>
      <div className="webhook-head">
        <code className="webhook-url">{webhook.url}</code>{' '}
        <span className={webhook.enabled ? 'webhook-enabled' : 'webhook-disabled'}>
          {webhook.enabled ? 'Enabled' : 'Disabled'}
        </span>
      </div>
      <p className="muted">
        Events: {webhook.events.join(', ')}
        {webhook.disabled_reason && <> · Disabled because {webhook.disabled_reason}</>}
      </p>
      <p className="webhook-health">
        Last success: {webhook.last_success_at ? <DateTime iso={webhook.last_success_at} /> : 'never'}
        {webhook.failing_since && (
          <>
            {' '}
            · <strong>Failing since</strong> <DateTime iso={webhook.failing_since} />
          </>
        )}
      </p>
      <div className="actions">
        <button type="button" className="button-small" onClick={() => toggle.mutate()} disabled={toggle.isPending}>
          {webhook.enabled ? 'Disable' : 'Enable'}
        </button>
        <button type="button" className="button-small" onClick={() => rotate.mutate()} disabled={rotate.isPending}>
          Rotate secret
        </button>
        <button type="button" className="button-small" onClick={() => test.mutate()} disabled={test.isPending}>
          Send test event
        </button>
        <button type="button" className="button-small" onClick={() => setOpen((o) => !o)} aria-expanded={open}>
          {open ? 'Hide deliveries' : 'Deliveries'}
        </button>
        <button
          type="button"
          className="button-small danger"
          onClick={() => remove.mutate()}
          disabled={remove.isPending}
        >
          Delete
        </button>
      </div>
      {error && <ProblemAlert error={error} />}
      {open && <DeliveryLog webhookId={webhook.webhook_id} />}
    </li>
  );
}

/**
 * The delivery log of a subscription: each recorded attempt (`webhook.delivery`, live layer)
 * refetches it; polled only while live updates are down.
 */
function DeliveryLog({ webhookId }: { readonly webhookId: string }) {
  const client = useApi();
  const poll = useFallbackPollMs();
  const queryClient = useQueryClient();
  const log = useQuery({
    queryKey: webhookKeys.deliveries(webhookId),
    queryFn: ({ signal }) => fetchDeliveries(client, webhookId, null, signal),
    refetchInterval: poll ?? false,
  });
  const again = useMutation({
    mutationFn: (deliveryId: string) => redeliver(client, webhookId, deliveryId),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: webhookKeys.deliveries(webhookId) }),
  });
  if (log.isPending) return <Loading label="Loading deliveries…" />;
  if (!log.data) return <ProblemAlert error={log.error} context="Could not load the deliveries" />;
  return (
    <section aria-label="Delivery log">
      <DeliveriesTable
        deliveries={log.data.items}
        onRedeliver={(d) => again.mutate(d.delivery_id)}
        busyId={again.isPending ? (again.variables ?? null) : null}
      />
    </section>
  );
}

/** Webhook subscriptions of the tenant (admins). */
export function WebhooksPage() {
  useDocumentTitle('Webhooks');
  const client = useApi();
  const admin = useCan('admin');
  const poll = useFallbackPollMs();
  const [secret, setSecret] = useState<string | null>(null);
  const list = useQuery({
    queryKey: webhookKeys.all,
    queryFn: ({ signal }) => fetchWebhooks(client, signal),
    enabled: admin,
    refetchInterval: poll ?? false,
  });
  if (!admin)
    return (
      <section>
        <h2>Webhooks</h2>
        <p>Only admin keys manage webhook subscriptions.</p>
      </section>
    );
  return (
    <section aria-labelledby="webhooks-title">
      <h2 id="webhooks-title">Webhooks</h2>
      <p className="muted">
        Jobtrail POSTs job events to these URLs, signed per Standard Webhooks (verify with the{' '}
        <code>standardwebhooks</code> package).
      </p>
      {secret && <SecretNotice secret={secret} onDone={() => setSecret(null)} />}
      <CreateWebhookForm onCreated={setSecret} />
      {list.isPending ? (
        <Loading label="Loading subscriptions…" />
      ) : !list.data ? (
        <ProblemAlert error={list.error} context="Could not load the subscriptions" />
      ) : list.data.length === 0 ? (
        <p>No subscriptions yet.</p>
      ) : (
        <ul className="webhooks">
          {list.data.map((w) => (
            <WebhookRow key={w.webhook_id} webhook={w} onSecret={setSecret} />
          ))}
        </ul>
      )}
    </section>
  );
}
