import {
  CreatedWebhookSchema,
  RotatedWebhookSecretSchema,
  WebhookDeliverySchema,
  WebhookSchema,
  type CreateWebhookBody,
  type CreatedWebhookWire,
  type RotatedWebhookSecretWire,
  type UpdateWebhookBody,
  type WebhookDeliveryWire,
  type WebhookWire,
} from '@jobtrail/domain';
import type { ApiClient, Page } from '../api/client.js';

const id = (s: string) => encodeURIComponent(s);

/** Query keys of the webhook screens. */
export const webhookKeys = {
  all: ['webhooks'] as const,
  deliveries: (webhookId: string) => ['webhooks', webhookId, 'deliveries'] as const,
  job: (jobId: string) => ['job-deliveries', jobId] as const,
};

export function fetchWebhooks(client: ApiClient, signal?: AbortSignal): Promise<WebhookWire[]> {
  return client.get('/webhooks', WebhookSchema.array(), signal);
}

export async function createWebhook(client: ApiClient, body: CreateWebhookBody): Promise<CreatedWebhookWire> {
  return (await client.request('/webhooks', { method: 'POST', body, schema: CreatedWebhookSchema })).data;
}

export async function updateWebhook(
  client: ApiClient,
  webhookId: string,
  body: UpdateWebhookBody,
): Promise<WebhookWire> {
  return (await client.request(`/webhooks/${id(webhookId)}`, { method: 'PATCH', body, schema: WebhookSchema })).data;
}

export async function deleteWebhook(client: ApiClient, webhookId: string): Promise<void> {
  await client.request(`/webhooks/${id(webhookId)}`, { method: 'DELETE' });
}

export async function rotateWebhookSecret(client: ApiClient, webhookId: string): Promise<RotatedWebhookSecretWire> {
  return (
    await client.request(`/webhooks/${id(webhookId)}/rotate-secret`, {
      method: 'POST',
      schema: RotatedWebhookSecretSchema,
    })
  ).data;
}

export async function sendTestEvent(client: ApiClient, webhookId: string): Promise<WebhookDeliveryWire> {
  return (await client.request(`/webhooks/${id(webhookId)}/test`, { method: 'POST', schema: WebhookDeliverySchema }))
    .data;
}

export function fetchDeliveries(
  client: ApiClient,
  webhookId: string,
  next: string | null,
  signal?: AbortSignal,
): Promise<Page<WebhookDeliveryWire>> {
  return client.page(next ?? `/webhooks/${id(webhookId)}/deliveries?limit=50`, WebhookDeliverySchema, signal);
}

export async function redeliver(
  client: ApiClient,
  webhookId: string,
  deliveryId: string,
): Promise<WebhookDeliveryWire> {
  return (
    await client.request(`/webhooks/${id(webhookId)}/deliveries/${id(deliveryId)}/redeliver`, {
      method: 'POST',
      schema: WebhookDeliverySchema,
    })
  ).data;
}

export function fetchJobDeliveries(
  client: ApiClient,
  jobId: string,
  signal?: AbortSignal,
): Promise<Page<WebhookDeliveryWire>> {
  return client.page(`/jobs/${id(jobId)}/deliveries?limit=200`, WebhookDeliverySchema, signal);
}
