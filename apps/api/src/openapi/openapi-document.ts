import {
  ApiKeySchema,
  CreateApiKeyBodySchema,
  CreateWebhookBodySchema,
  CreatedWebhookSchema,
  RotatedWebhookSecretSchema,
  UpdateWebhookBodySchema,
  WebhookDeliveriesQuerySchema,
  WebhookDeliveryAttemptSchema,
  WebhookDeliveryParamsSchema,
  WebhookDeliverySchema,
  WebhookDeliveryEventSchema,
  WebhookIdParamsSchema,
  WebhookSchema,
  CreatedApiKeySchema,
  KeyIdParamsSchema,
  ConnectionIdParamsSchema,
  BulkRetryBodySchema,
  BulkRetryResponseSchema,
  JobStatsQuerySchema,
  JobStatsSchema,
  MfaAnswerBodySchema,
  InstitutionSchema,
  ConnectionListQuerySchema,
  ConnectionSchema,
  CreateConnectionBodySchema,
  UpdateConnectionBodySchema,
  UpdateConnectionResponseSchema,
  CreateConnectionResponseSchema,
  HistoryQuerySchema,
  JobDetailSchema,
  JobIdParamsSchema,
  JobLogLineSchema,
  JobSearchQuerySchema,
  JobSummarySchema,
  EventTokenSchema,
  EventsQuerySchema,
  FieldErrorSchema,
  HealthSchema,
  JOB_ERROR_CODES,
  JobErrorWireSchema,
  JobStepWireSchema,
  JobTransitionWireSchema,
  PROBLEM_CODES,
  PageQuerySchema,
  ProblemSchema,
  WhoAmISchema,
  type ApiKeyRole,
} from '@jobtrail/domain';
import { z } from 'zod';

/** One operation of the API, as documented. The route table the OpenAPI document is built from. */
export interface RouteSpec {
  readonly method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI path template, under the `/api` base. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  /** Null for public routes. */
  readonly role: ApiKeyRole | null;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly idempotent?: boolean;
  /** Success statuses and their body schema (null: no body). */
  readonly responses: Readonly<Record<number, z.ZodType | null>>;
  /** The media type of a non-JSON success body (event stream, metrics text). */
  readonly produces?: string;
  /** Another media type the 200 answers in, on `Accept` (the history as CSV). */
  readonly alsoProduces?: string;
  /** Error statuses this operation may answer besides 400/413/415 (any request body), 500/503 and, with a key, 401/403/429. */
  readonly errors: readonly number[];
}

const list = (item: z.ZodType) => z.array(item);

/** Every route of the API. */
export const ROUTES: readonly RouteSpec[] = [
  {
    method: 'get',
    path: '/health',
    operationId: 'health',
    summary: 'Liveness and database readiness',
    role: null,
    responses: { 200: HealthSchema, 503: HealthSchema },
    errors: [],
  },
  {
    method: 'get',
    path: '/me',
    operationId: 'whoAmI',
    summary: 'The presented API key: tenant and role',
    role: 'viewer',
    responses: { 200: WhoAmISchema },
    errors: [],
  },
  {
    method: 'post',
    path: '/connections',
    operationId: 'createConnection',
    summary: 'Create a connection and its first refresh job',
    role: 'operator',
    body: CreateConnectionBodySchema,
    idempotent: true,
    responses: { 202: CreateConnectionResponseSchema },
    errors: [400, 409, 413, 415, 422],
  },
  {
    method: 'get',
    path: '/connections',
    operationId: 'listConnections',
    summary:
      'Connections, newest first, with their status and latest job; filters: status, institution_id, user_ref, q (full login, reference or id prefix), latest_job_status',
    role: 'viewer',
    query: ConnectionListQuerySchema,
    responses: { 200: list(ConnectionSchema) },
    errors: [400],
  },
  {
    method: 'get',
    path: '/connections/{connection_id}',
    operationId: 'getConnection',
    summary: 'One connection with its latest job',
    role: 'viewer',
    params: ConnectionIdParamsSchema,
    responses: { 200: ConnectionSchema },
    errors: [400, 404],
  },
  {
    method: 'patch',
    path: '/connections/{connection_id}',
    operationId: 'updateConnection',
    summary:
      'Replace the credentials (202 with the refresh that verifies them; 200 with the active refresh if one runs) or the refresh schedule (200)',
    role: 'operator',
    params: ConnectionIdParamsSchema,
    body: UpdateConnectionBodySchema,
    responses: { 202: UpdateConnectionResponseSchema, 200: UpdateConnectionResponseSchema },
    errors: [400, 404, 413, 415],
  },
  {
    method: 'delete',
    path: '/connections/{connection_id}',
    operationId: 'deleteConnection',
    summary: 'Delete a connection and all its data',
    role: 'admin',
    params: ConnectionIdParamsSchema,
    responses: { 204: null },
    errors: [400, 404],
  },
  {
    method: 'post',
    path: '/connections/{connection_id}/refresh',
    operationId: 'refreshConnection',
    summary: 'Start a refresh (200 with the running one if any)',
    role: 'operator',
    params: ConnectionIdParamsSchema,
    idempotent: true,
    responses: { 202: JobSummarySchema, 200: JobSummarySchema },
    errors: [400, 404, 409, 422],
  },
  {
    method: 'post',
    path: '/connections/{connection_id}/purge',
    operationId: 'purgeConnection',
    summary: 'Start a purge (200 with the running one if any)',
    role: 'operator',
    params: ConnectionIdParamsSchema,
    idempotent: true,
    responses: { 202: JobSummarySchema, 200: JobSummarySchema },
    errors: [400, 404, 409, 422],
  },
  {
    method: 'get',
    path: '/connections/{connection_id}/jobs',
    operationId: 'listConnectionJobs',
    summary:
      'Job history of a connection, newest first (keyset paging via Link); with `Accept: text/csv`, the whole filtered history as one streamed CSV (no page limit)',
    role: 'viewer',
    params: ConnectionIdParamsSchema,
    query: HistoryQuerySchema,
    responses: { 200: list(JobSummarySchema) },
    alsoProduces: 'text/csv',
    errors: [400, 404],
  },
  {
    method: 'get',
    path: '/jobs',
    operationId: 'searchJobs',
    summary: 'Tenant-wide job search',
    role: 'viewer',
    query: JobSearchQuerySchema,
    responses: { 200: list(JobSummarySchema) },
    errors: [400],
  },
  {
    method: 'get',
    path: '/jobs/stats',
    operationId: 'jobStats',
    summary: 'Counts of the jobs created in a time range (default the last 24 h): by status, by error code, per hour',
    role: 'viewer',
    query: JobStatsQuerySchema,
    responses: { 200: JobStatsSchema },
    errors: [400],
  },
  {
    method: 'post',
    path: '/jobs/retry',
    operationId: 'bulkRetryJobs',
    summary:
      'Retry the failed (or cancelled) jobs matching a filter, at most 10,000 a call; never a job a newer job of its action follows; `dry_run` only counts',
    role: 'operator',
    body: BulkRetryBodySchema,
    idempotent: true,
    responses: { 200: BulkRetryResponseSchema },
    errors: [400, 409, 413, 415, 422],
  },
  {
    method: 'get',
    path: '/jobs/{job_id}',
    operationId: 'getJob',
    summary: 'A job with steps, error, result and transitions',
    role: 'viewer',
    params: JobIdParamsSchema,
    responses: { 200: JobDetailSchema },
    errors: [400, 404],
  },
  {
    method: 'get',
    path: '/jobs/{job_id}/logs',
    operationId: 'getJobLogs',
    summary: 'Log lines of a job, oldest first',
    role: 'viewer',
    params: JobIdParamsSchema,
    query: PageQuerySchema,
    responses: { 200: list(JobLogLineSchema) },
    errors: [400, 404],
  },
  {
    method: 'post',
    path: '/jobs/{job_id}/retry',
    operationId: 'retryJob',
    summary: 'Retry a failed or cancelled job as a new job',
    role: 'operator',
    params: JobIdParamsSchema,
    idempotent: true,
    responses: { 202: JobSummarySchema, 200: JobSummarySchema },
    errors: [400, 404, 409, 422],
  },
  {
    method: 'get',
    path: '/institutions',
    operationId: 'listInstitutions',
    summary:
      "Every institution's health across tenants: status (operational, degraded, down = circuit open), the last hour's success rate and refreshes, the last failure",
    role: 'viewer',
    responses: { 200: z.array(InstitutionSchema) },
    errors: [],
  },
  {
    method: 'post',
    path: '/events/token',
    operationId: 'createEventToken',
    summary: 'A 10-minute token to open the event stream without a header (EventSource)',
    role: 'viewer',
    responses: { 201: EventTokenSchema },
    errors: [],
  },
  {
    method: 'get',
    path: '/events',
    operationId: 'streamEvents',
    summary:
      'Server-Sent Events of job changes (job.created, job.updated; data: the job summary; resume with Last-Event-ID), connection.deleted (data: {connection_id}; not replayed), webhook.delivery (a webhook attempt was recorded; data: WebhookDeliveryEvent; not replayed) and reset (a resume too far behind: reload the history)',
    role: 'viewer',
    query: EventsQuerySchema,
    produces: 'text/event-stream',
    responses: { 200: null },
    errors: [400],
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary:
      'Prometheus metrics (Node process metrics, job counts, queue depth and lag, durations); with JOBTRAIL_METRICS_TOKEN set, send it as `Authorization: Bearer <token>`',
    role: null,
    produces: 'text/plain',
    responses: { 200: null },
    errors: [401],
  },
  {
    method: 'post',
    path: '/jobs/{job_id}/mfa',
    operationId: 'answerJobChallenge',
    summary:
      "Answer the job's one-time-code challenge (202: right, the job goes on; 422 `mfa-code-invalid`: wrong, the third fails it with `mfa-failed`; 409 `challenge-not-waiting`)",
    role: 'operator',
    params: JobIdParamsSchema,
    body: MfaAnswerBodySchema,
    idempotent: true,
    responses: { 202: JobSummarySchema },
    errors: [400, 404, 409, 413, 415, 422],
  },
  {
    method: 'post',
    path: '/jobs/{job_id}/cancel',
    operationId: 'cancelJob',
    summary: 'Cancel a job (200 cancelled, 202 stopping at the next step)',
    role: 'operator',
    params: JobIdParamsSchema,
    idempotent: true,
    responses: { 200: JobSummarySchema, 202: JobSummarySchema },
    errors: [400, 404, 409, 422],
  },
  {
    method: 'get',
    path: '/keys',
    operationId: 'listApiKeys',
    summary: "The tenant's active API keys: role, creation, last use (to the minute) and creator; never the keys",
    role: 'admin',
    responses: { 200: list(ApiKeySchema) },
    errors: [],
  },
  {
    method: 'post',
    path: '/keys',
    operationId: 'createApiKey',
    summary: 'Create an API key in the tenant; the answer shows the key this once only',
    role: 'admin',
    body: CreateApiKeyBodySchema,
    responses: { 201: CreatedApiKeySchema },
    errors: [400, 413, 415],
  },
  {
    method: 'delete',
    path: '/keys/{key_id}',
    operationId: 'revokeApiKey',
    summary:
      "Revoke an API key at once (its next request answers 401); the tenant's last admin key cannot be revoked (409 last-admin-key)",
    role: 'admin',
    params: KeyIdParamsSchema,
    responses: { 204: null },
    errors: [400, 404, 409],
  },
  {
    method: 'post',
    path: '/webhooks',
    operationId: 'createWebhook',
    summary:
      'Subscribe a URL to job events; the answer shows the signing secret this once only. Only https URLs to public addresses (http to loopback with JOBTRAIL_WEBHOOK_ALLOW_PRIVATE=1)',
    role: 'admin',
    body: CreateWebhookBodySchema,
    responses: { 201: CreatedWebhookSchema },
    errors: [400, 413, 415],
  },
  {
    method: 'get',
    path: '/webhooks',
    operationId: 'listWebhooks',
    summary: "The tenant's webhook subscriptions with their health (last success, failure streak); never the secrets",
    role: 'admin',
    responses: { 200: list(WebhookSchema) },
    errors: [],
  },
  {
    method: 'get',
    path: '/webhooks/{webhook_id}',
    operationId: 'getWebhook',
    summary: 'One webhook subscription',
    role: 'admin',
    params: WebhookIdParamsSchema,
    responses: { 200: WebhookSchema },
    errors: [400, 404],
  },
  {
    method: 'patch',
    path: '/webhooks/{webhook_id}',
    operationId: 'updateWebhook',
    summary: 'Change the URL, events, description or enabled flag (disabling ends its pending deliveries)',
    role: 'admin',
    params: WebhookIdParamsSchema,
    body: UpdateWebhookBodySchema,
    responses: { 200: WebhookSchema },
    errors: [400, 404, 413, 415],
  },
  {
    method: 'delete',
    path: '/webhooks/{webhook_id}',
    operationId: 'deleteWebhook',
    summary: 'Delete a subscription and its delivery log',
    role: 'admin',
    params: WebhookIdParamsSchema,
    responses: { 204: null },
    errors: [400, 404],
  },
  {
    method: 'post',
    path: '/webhooks/{webhook_id}/rotate-secret',
    operationId: 'rotateWebhookSecret',
    summary: 'A new signing secret, shown this once; the previous one signs too for 24 h',
    role: 'admin',
    params: WebhookIdParamsSchema,
    responses: { 200: RotatedWebhookSecretSchema },
    errors: [400, 404],
  },
  {
    method: 'post',
    path: '/webhooks/{webhook_id}/test',
    operationId: 'testWebhook',
    summary: 'Queue a `webhook.test` event to the subscription; the answer is its delivery',
    role: 'admin',
    params: WebhookIdParamsSchema,
    responses: { 202: WebhookDeliverySchema },
    errors: [400, 404],
  },
  {
    method: 'get',
    path: '/webhooks/{webhook_id}/deliveries',
    operationId: 'listWebhookDeliveries',
    summary:
      'The delivery log of a subscription, newest first (keyset paging via Link), with every attempt: time, status code, duration, error',
    role: 'admin',
    params: WebhookIdParamsSchema,
    query: WebhookDeliveriesQuerySchema,
    responses: { 200: list(WebhookDeliverySchema) },
    errors: [400, 404],
  },
  {
    method: 'post',
    path: '/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver',
    operationId: 'redeliverWebhookDelivery',
    summary: 'Send a delivery again (same webhook-id), whatever its status',
    role: 'admin',
    params: WebhookDeliveryParamsSchema,
    responses: { 202: WebhookDeliverySchema },
    errors: [400, 404],
  },
  {
    method: 'get',
    path: '/jobs/{job_id}/deliveries',
    operationId: 'listJobDeliveries',
    summary: "The webhook deliveries the job's changes caused, newest first (keyset paging via Link)",
    role: 'viewer',
    params: JobIdParamsSchema,
    query: PageQuerySchema,
    responses: { 200: list(WebhookDeliverySchema) },
    errors: [400, 404],
  },
];

/**
 * The named schemas of the document (`components.schemas`), by direction: answers are described as
 * the server writes them (`output`), request bodies as clients may send them (`input`: defaults
 * optional). Every use of a registered schema, nested ones included, becomes a `$ref`, so generated
 * clients get these names as types.
 */
const OUTPUT_SCHEMAS: ReadonlyArray<readonly [string, z.ZodType]> = [
  ['JobSummary', JobSummarySchema],
  ['JobDetail', JobDetailSchema],
  ['JobError', JobErrorWireSchema],
  ['JobStep', JobStepWireSchema],
  ['JobTransition', JobTransitionWireSchema],
  ['JobLogLine', JobLogLineSchema],
  ['Connection', ConnectionSchema],
  ['ConnectionCreated', CreateConnectionResponseSchema],
  ['ConnectionUpdated', UpdateConnectionResponseSchema],
  ['BulkRetryResult', BulkRetryResponseSchema],
  ['JobStats', JobStatsSchema],
  ['ApiKey', ApiKeySchema],
  ['CreatedApiKey', CreatedApiKeySchema],
  ['WhoAmI', WhoAmISchema],
  ['Webhook', WebhookSchema],
  ['CreatedWebhook', CreatedWebhookSchema],
  ['RotatedWebhookSecret', RotatedWebhookSecretSchema],
  ['WebhookDelivery', WebhookDeliverySchema],
  ['WebhookDeliveryAttempt', WebhookDeliveryAttemptSchema],
  ['WebhookDeliveryEvent', WebhookDeliveryEventSchema],
  ['EventToken', EventTokenSchema],
  ['Health', HealthSchema],
  ['Problem', ProblemSchema],
  ['FieldError', FieldErrorSchema],
];
const INPUT_SCHEMAS: ReadonlyArray<readonly [string, z.ZodType]> = [
  ['CreateConnectionBody', CreateConnectionBodySchema],
  ['UpdateConnectionBody', UpdateConnectionBodySchema],
  ['BulkRetryBody', BulkRetryBodySchema],
  ['CreateApiKeyBody', CreateApiKeyBodySchema],
  ['CreateWebhookBody', CreateWebhookBodySchema],
  ['UpdateWebhookBody', UpdateWebhookBodySchema],
];

const COMPONENTS = '#/components/schemas/';

function registryOf(entries: ReadonlyArray<readonly [string, z.ZodType]>) {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of entries) registry.add(schema, { id });
  return registry;
}
const REGISTRIES = { output: registryOf(OUTPUT_SCHEMAS), input: registryOf(INPUT_SCHEMAS) };

/** `#/$defs/X` (zod's local definitions, named by registry id) to `#/components/schemas/X`. */
function toComponentRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toComponentRefs);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$schema' || k === '$id' || k === '$defs') continue;
    out[k] = k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\//, COMPONENTS) : toComponentRefs(v);
  }
  return out;
}

/** The JSON Schema of one use of `schema`: a `$ref` for a named schema, with `$ref`s inside others. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const id = REGISTRIES[io].get(schema)?.id;
  if (id !== undefined) return { $ref: `${COMPONENTS}${id}` };
  return toComponentRefs(z.toJSONSchema(schema, { io, unrepresentable: 'any', metadata: REGISTRIES[io] })) as Record<
    string,
    unknown
  >;
}

/** The closed sets of codes, as enums: clients can switch on them. */
const CODE_SCHEMAS = {
  ProblemCode: {
    type: 'string',
    enum: [...PROBLEM_CODES],
    description: 'The stable `code` of a problem+json error; branch on it, never on `title` or `detail`.',
  },
  JobErrorCode: {
    type: 'string',
    enum: [...JOB_ERROR_CODES],
    description:
      'The catalogued error codes of a job (see docs/error-codes.md). Institutions may send others, which are kept as they came.',
  },
};

/** `components.schemas`: every named schema, with the code fields pointing at their enums. */
function componentSchemas(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = { ...CODE_SCHEMAS };
  for (const io of ['output', 'input'] as const) {
    const { schemas } = z.toJSONSchema(REGISTRIES[io], {
      io,
      unrepresentable: 'any',
      uri: (id) => `${COMPONENTS}${id}`,
    });
    for (const [id, schema] of Object.entries(schemas)) out[id] = toComponentRefs(schema) as Record<string, unknown>;
  }
  const properties = (name: string) => out[name]!.properties as Record<string, unknown>;
  // The wire schemas keep codes open strings so that clients parse future codes; the document
  // names the codes the server sends today.
  properties('Problem').code = { $ref: `${COMPONENTS}ProblemCode` };
  properties('JobError').code = {
    anyOf: [{ $ref: `${COMPONENTS}JobErrorCode` }, { type: 'string', minLength: 1 }],
    description: "A catalogued code (JobErrorCode), or an institution's own code passed through as it came.",
  };
  return out;
}

function parameters(route: RouteSpec): unknown[] {
  const out: unknown[] = [];
  if (route.params) {
    for (const name of Object.keys(route.params.shape))
      out.push({ name, in: 'path', required: true, schema: { type: 'string', format: 'uuid' } });
  }
  if (route.query) {
    const schema = jsonSchema(route.query, 'input') as { properties?: Record<string, unknown> };
    for (const [name, prop] of Object.entries(schema.properties ?? {}))
      out.push({ name, in: 'query', required: false, schema: prop });
  }
  if (route.operationId === 'streamEvents') {
    out.push({
      name: 'Last-Event-ID',
      in: 'header',
      required: false,
      description:
        'Resume after this event id (the opaque `id:` of the last event received, sealed for your tenant; EventSource sends it on reconnection), or `0` for everything still kept. Same as the `last_event_id` query parameter, which clients that cannot set headers use. An id that is not one of your stream is a 400.',
      schema: { type: 'string', pattern: '^(0|[A-Za-z0-9_-]{40,200})$' },
    });
  }
  if (route.idempotent) {
    out.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'Replays the first answer for 24 h; another body with the same key is a 422.',
      schema: { type: 'string', maxLength: 255 },
    });
  }
  return out;
}

const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': {
    description:
      "Requests a minute this key may make (JOBTRAIL_RATE_LIMIT_PER_MINUTE); on a 429 `refresh-limit-exceeded`, the connection's refreshes an hour.",
    schema: { type: 'string', pattern: '^\\d+$' },
  },
  'RateLimit-Remaining': {
    description: 'Requests left in the current window of that limit.',
    schema: { type: 'string', pattern: '^\\d+$' },
  },
} as const;

/** Whether a route pages with a `cursor` (the next page is in `Link`). */
function isPaged(route: RouteSpec): boolean {
  const shape = (route.query as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape !== undefined && 'cursor' in shape;
}

/**
 * The headers of one answer, as a client may act on them: where to follow an accepted job, the
 * next page, the key's rate limit, when to retry, whether an answer is a replay. `required` means
 * every such answer carries it; the conformance check of the integration suites holds the server
 * to it (and to sending none of these headers where the document does not name them).
 */
function responseHeaders(route: RouteSpec, status: number): Record<string, unknown> {
  const headers: Record<string, Record<string, unknown>> = {};
  const success = status < 300;
  // A 202 that starts a job says where to follow it; a queued webhook delivery is followed in its
  // subscription's delivery log instead (there is no job to point at).
  if (status === 202 && route.responses[202] !== WebhookDeliverySchema)
    headers.Location = {
      required: true,
      description: 'The URL of the accepted job: `/api/jobs/{job_id}` (poll it, or follow it on `/events`).',
      schema: { type: 'string' },
    };
  if (success && isPaged(route))
    headers.Link = {
      description:
        '`<url>; rel="next"` when there is a next page: follow it as it is (its cursor is opaque); absent on the last page.',
      schema: { type: 'string' },
    };
  if (success && route.idempotent)
    headers['Idempotent-Replayed'] = {
      description:
        '`true` when this answer is the replay of an earlier request with the same Idempotency-Key (absent otherwise).',
      schema: { type: 'string', enum: ['true'] },
    };
  // Keyed routes take a token from the key's bucket once the key is known: every answer from then
  // on carries the limit. Before that (401, 403, a body the parser refused) there is no bucket yet;
  // a 400 or 5xx may come from either side of it.
  if (route.role !== null && ![401, 403, 413, 415].includes(status)) {
    const required = success || [404, 409, 422, 429].includes(status);
    for (const [name, h] of Object.entries(RATE_LIMIT_HEADERS)) headers[name] = { ...h, required };
  }
  if (status === 429) {
    headers['Retry-After'] = {
      required: true,
      description: 'Seconds to wait before retrying.',
      schema: { type: 'string', pattern: '^\\d+$' },
    };
    headers['RateLimit-Reset'] = {
      description: 'On `refresh-limit-exceeded`: seconds until the connection may be refreshed again.',
      schema: { type: 'string', pattern: '^\\d+$' },
    };
    headers['RateLimit-Policy'] = {
      description: 'On `refresh-limit-exceeded`: the limit and its window (`60;w=3600`).',
      schema: { type: 'string' },
    };
  }
  if (status === 503)
    headers['Retry-After'] = {
      description: 'Seconds to wait before retrying (when the database is unreachable).',
      schema: { type: 'string', pattern: '^\\d+$' },
    };
  return headers;
}

const DESCRIPTIONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No content',
  400: 'Invalid request (field errors in `errors`)',
  401: 'Missing, unknown or revoked API key',
  403: "The key's role does not allow this",
  404: "Not found (also for another tenant's resources)",
  409: "Refused by the job state machine, idempotent request in flight, or the tenant's last admin key",
  413: 'Body too large',
  415: 'Body is not JSON',
  422: 'Idempotency-Key reused with another request',
  429: 'Rate limited',
  500: 'Internal error (with an error_id)',
  503: 'Database unavailable',
};

/** What any request with a body may get: malformed JSON, too large, not JSON. */
const BODY_ERRORS = [400, 413, 415];

/** The OpenAPI 3.1 document of the API, built from the route table and the domain's schemas. */
export function buildOpenApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const problem = { 'application/problem+json': { schema: { $ref: `${COMPONENTS}Problem` } } };
  for (const route of ROUTES) {
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(route.responses)) {
      const description = DESCRIPTIONS[Number(status)] ?? 'OK';
      if (schema)
        responses[status] = {
          description,
          content: {
            'application/json': { schema: jsonSchema(schema, 'output') },
            ...(route.alsoProduces && status === '200'
              ? {
                  [route.alsoProduces]: {
                    schema: { type: 'string', description: 'One row per job, with a header row.' },
                  },
                }
              : {}),
          },
        };
      else if (route.produces)
        responses[status] = { description, content: { [route.produces]: { schema: { type: 'string' } } } };
      else responses[status] = { description };
    }
    // Every request's body is parsed (400, 413, 415), whatever the method; keyed routes are rate
    // limited; public routes need the database too (metrics), so they may answer 503 as well.
    const errors =
      route.role === null
        ? [...route.errors, ...BODY_ERRORS, 500, 503]
        : [...route.errors, ...BODY_ERRORS, 401, 403, 429, 500, 503];
    for (const status of new Set(errors))
      responses[String(status)] ??= { description: DESCRIPTIONS[status] ?? 'Error', content: problem };
    for (const [status, response] of Object.entries(responses)) {
      const headers = responseHeaders(route, Number(status));
      if (Object.keys(headers).length > 0) (response as Record<string, unknown>).headers = headers;
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.role === null ? { security: [] } : { description: `Needs the ${route.role} role.` }),
      parameters: parameters(route),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Jobtrail API',
      version: '0.1.0',
      description: [
        'Background jobs of bank connections. Errors are RFC 9457 problem+json with a stable `code`.',
        'Rate limits: each API key may make JOBTRAIL_RATE_LIMIT_PER_MINUTE requests a minute (default 600, token bucket per process);',
        'each connection may get JOBTRAIL_REFRESH_LIMIT_PER_HOUR refresh jobs an hour (default 60, counted in the database).',
        'Beyond the key limit the answer is 429 `rate-limited`, beyond the connection limit 429 `refresh-limit-exceeded`; both carry Retry-After (seconds) and RateLimit-* headers describing the limit that was reached.',
      ].join(' '),
    },
    servers: [{ url: '/api' }],
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer jt_...`' },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
