/** The wire contract of webhooks: subscriptions, their secrets, and the delivery log. */
import { z } from 'zod';
import { ALL_WEBHOOK_EVENTS, WEBHOOK_DELIVERY_STATUSES, WEBHOOK_EVENT_TYPES } from './webhooks.js';
import { PageQuerySchema, UuidSchema } from './wire.js';

const isoDateTime = z.iso.datetime({ offset: true });
const nullableDate = isoDateTime.nullable();

/** The `{webhook_id}` path parameter. */
export const WebhookIdParamsSchema = z.strictObject({ webhook_id: UuidSchema });
/** The `{webhook_id}/deliveries/{delivery_id}` path parameters. */
export const WebhookDeliveryParamsSchema = z.strictObject({ webhook_id: UuidSchema, delivery_id: UuidSchema });

const eventTypeEnum = z.enum(WEBHOOK_EVENT_TYPES, { message: `must be one of: ${WEBHOOK_EVENT_TYPES.join(', ')}` });

/** The events of a subscription: types, or `["*"]` for all. */
export const WebhookEventsSchema = z
  .array(z.union([eventTypeEnum, z.literal(ALL_WEBHOOK_EVENTS)]), { message: 'must be an array of event types' })
  .min(1, 'must name at least one event type, or "*"')
  .max(WEBHOOK_EVENT_TYPES.length + 1)
  .refine((e) => new Set(e).size === e.length, { message: 'must not repeat a type' })
  .describe(
    'Event types to receive (`job.created`, `job.updated`, `job.succeeded`, `job.failed`, `job.cancelled`, `webhook.test`), or `["*"]` for every type.',
  );

const urlSchema = z
  .string({ message: 'must be a string' })
  .min(1, 'is required')
  .max(2048, 'must be at most 2048 characters')
  .describe('Where events are POSTed: an `https` URL to a public address.');
const descriptionSchema = z.string().max(500, 'must be at most 500 characters');

/** `POST /webhooks`. */
export const CreateWebhookBodySchema = z.strictObject({
  url: urlSchema,
  events: WebhookEventsSchema,
  description: descriptionSchema.nullable().optional(),
  enabled: z.boolean().optional().describe('Default true.'),
});
export type CreateWebhookBody = z.infer<typeof CreateWebhookBodySchema>;

/** `PATCH /webhooks/:webhook_id`: any of the fields. */
export const UpdateWebhookBodySchema = z
  .strictObject({
    url: urlSchema.optional(),
    events: WebhookEventsSchema.optional(),
    description: descriptionSchema.nullable().optional(),
    enabled: z.boolean().optional().describe('Enabling a disabled subscription clears its disabled reason.'),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'must change at least one field' });
export type UpdateWebhookBody = z.infer<typeof UpdateWebhookBodySchema>;

/** A subscription on the wire. Its secret appears only when created or rotated. */
export const WebhookSchema = z.object({
  webhook_id: UuidSchema,
  url: z.string(),
  events: z.array(z.string()),
  description: z.string().nullable(),
  enabled: z.boolean(),
  disabled_reason: z
    .string()
    .nullable()
    .describe('Why Jobtrail disabled it (410 Gone, or every delivery failing for 3 days); null otherwise.'),
  created_at: isoDateTime,
  updated_at: isoDateTime,
  last_success_at: nullableDate.describe('The last 2xx.'),
  last_failure_at: nullableDate.describe('The last failed attempt.'),
  failing_since: nullableDate.describe('Since when every attempt failed (the failure streak); null after a success.'),
  previous_secret_expires_at: nullableDate.describe('Until when the secret before the last rotation signs too.'),
});
export type WebhookWire = z.infer<typeof WebhookSchema>;

/** The answer of `POST /webhooks`: the subscription with its signing secret, shown this once. */
export const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().describe('The signing secret (`whsec_...`); shown only now: store it.'),
});
export type CreatedWebhookWire = z.infer<typeof CreatedWebhookSchema>;

/** The answer of a rotation. */
export const RotatedWebhookSecretSchema = z.object({
  secret: z.string().describe('The new signing secret, shown only now.'),
  previous_secret_expires_at: isoDateTime.describe('Until when the previous secret signs too.'),
});
export type RotatedWebhookSecretWire = z.infer<typeof RotatedWebhookSecretSchema>;

/** One attempt of a delivery. */
export const WebhookDeliveryAttemptSchema = z.object({
  attempt: z.number().int().min(1),
  at: isoDateTime,
  status_code: z.number().int().nullable().describe('The HTTP status, or null when no answer came.'),
  duration_ms: z.number().int().min(0),
  error: z.string().nullable(),
  response_body: z.string().nullable().describe('The first 1 KB of the answer.'),
});

/** One event sent (or to send) to one subscription. */
export const WebhookDeliverySchema = z.object({
  delivery_id: UuidSchema,
  webhook_id: UuidSchema,
  event_id: z.string().describe('The `webhook-id` header: the same on every attempt.'),
  event_type: eventTypeEnum,
  job_id: UuidSchema.nullable(),
  status: z.enum(WEBHOOK_DELIVERY_STATUSES),
  attempts: z.number().int().min(0),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  next_attempt_at: nullableDate.describe('When the next attempt is due (pending deliveries).'),
  created_at: isoDateTime.describe('When the event was committed.'),
  delivered_at: nullableDate,
  attempt_log: z.array(WebhookDeliveryAttemptSchema).describe('Every attempt, oldest first.'),
});
export type WebhookDeliveryWire = z.infer<typeof WebhookDeliverySchema>;

/** Query of a delivery log. */
export const WebhookDeliveriesQuerySchema = z.strictObject({
  limit: PageQuerySchema.shape.limit,
  cursor: PageQuerySchema.shape.cursor,
  status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(),
  event_type: eventTypeEnum.optional(),
  job_id: UuidSchema.optional(),
});
export type WebhookDeliveriesQuery = z.infer<typeof WebhookDeliveriesQuerySchema>;

/**
 * `event: webhook.delivery` on the event stream (`GET /events`): an attempt of a delivery was
 * recorded. Not stored and without an `id` (a resume does not replay it): a client refetches the
 * delivery log, the subscription's health or the job's deliveries it shows.
 */
export const WebhookDeliveryEventSchema = z.object({
  delivery_id: UuidSchema,
  webhook_id: UuidSchema,
  job_id: UuidSchema.nullable(),
  event_type: eventTypeEnum,
  status: z.enum(WEBHOOK_DELIVERY_STATUSES).describe('The delivery’s status after this attempt.'),
  attempts: z.number().int().min(1),
  status_code: z.number().int().nullable().describe('The attempt’s HTTP status, or null when no answer came.'),
});
export type WebhookDeliveryEventWire = z.infer<typeof WebhookDeliveryEventSchema>;
