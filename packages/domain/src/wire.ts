/**
 * The wire contract: the snake_case JSON the API sends and accepts, as zod schemas (Standard
 * Schema compliant) and the types inferred from them. The API validates requests and the dashboard
 * validates responses with these very schemas.
 */
import { z } from 'zod';
import { JOB_ACTIONS, STEP_NAMES, type JobAction, type StepName } from './action.js';
import { ATTEMPT_OUTCOMES } from './attempts.js';
import { CONNECTION_STATUSES } from './connection.js';
import { INSTITUTION_STATUSES } from './institution.js';
import { API_KEY_ROLES } from './roles.js';
import { JOB_STATUSES, STEP_STATUSES } from './status.js';

/** Largest page of any list. */
export const MAX_PAGE_SIZE = 200;
/** Page size when `limit` is not given. */
export const DEFAULT_PAGE_SIZE = 50;

const isoDateTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 date-time, e.g. 2024-12-10T04:33:00Z',
});
const nullableDate = isoDateTime.nullable();
const actionEnum = z.enum(JOB_ACTIONS as [JobAction, ...JobAction[]], {
  message: `must be one of: ${JOB_ACTIONS.join(', ')}`,
});
const statusEnum = z.enum(JOB_STATUSES, { message: `must be one of: ${JOB_STATUSES.join(', ')}` });

/**
 * A server-generated id. Ids that are not UUIDs are refused before any database work. Ids are
 * stored in lower case and a UUID's hex digits are case-insensitive, so every id the API is given
 * (path, query or body) is lower-cased here: `/connections/:id` and the `connection_id` filters
 * find the same thing whatever the case.
 */
export const UuidSchema = z.uuid({ message: 'must be a UUID' }).toLowerCase();

/** The `{connection_id}` path parameter. */
export const ConnectionIdParamsSchema = z.strictObject({ connection_id: UuidSchema });
/** The `{job_id}` path parameter. */
export const JobIdParamsSchema = z.strictObject({ job_id: UuidSchema });

/** A job's error on the wire. */
export const JobErrorWireSchema = z.object({
  code: z
    .string()
    .min(1)
    .describe("A catalogued code (see the error catalogue), or an institution's own code kept as it came."),
  title: z.string().describe('What the code means in general.'),
  detail: z.string().describe('What happened in this very job.'),
  retryable: z.boolean().describe('Whether Jobtrail retries automatically after this error.'),
  troubleshooting: z
    .array(z.string())
    .describe('What a support person or the end user can do about it, in order (empty for uncatalogued codes).'),
});
export type JobErrorWire = z.infer<typeof JobErrorWireSchema>;

/** What an institution asks the user while a job waits (`challenge`). */
export const JobChallengeWireSchema = z.object({
  type: z.literal('one-time-code').describe('What is asked: `one-time-code`.'),
  prompt: z.string().describe("The institution's words to the user."),
  expires_at: isoDateTime.describe('When the challenge lapses: the job then fails with `mfa-timeout`.'),
});
export type JobChallengeWire = z.infer<typeof JobChallengeWireSchema>;

/** `POST /jobs/:job_id/mfa`: the user's answer to the challenge. */
export const MfaAnswerBodySchema = z.strictObject({
  code: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(32, 'must be at most 32 characters')
    .describe('The one-time code the bank sent the user.'),
});
export type MfaAnswerBody = z.infer<typeof MfaAnswerBodySchema>;

/** One row of a connection's job history. */
// Each field carries a description: the OpenAPI document (and the clients generated from it) show them.
export const JobSummarySchema = z.object({
  job_id: UuidSchema.describe('The job, unique; a UUIDv7, so ids sort by creation.'),
  connection_id: UuidSchema.describe('The connection the action runs on.'),
  action: actionEnum.describe(
    'What the job does: `refresh` (fetch accounts and transactions) or `purge` (delete them).',
  ),
  status: statusEnum.describe(
    '`pending` (queued, or waiting for its next attempt at `run_at`), `processing`, then one of the terminal `success`, `failed`, `cancelled`.',
  ),
  date: isoDateTime.describe('When the job was triggered.'),
  started_at: nullableDate.describe('When its first attempt started (null while pending).'),
  finished_at: nullableDate.describe('When it reached a terminal status (null until then).'),
  updated_at: isoDateTime.describe('Its last change.'),
  attempt: z.number().int().min(0).describe('Attempts started so far (automatic retries included).'),
  max_attempts: z.number().int().min(1).describe('Attempts allowed for retryable errors.'),
  run_at: isoDateTime.describe('The earliest time its next attempt may start (backoff after a retryable error).'),
  error: JobErrorWireSchema.nullable().describe(
    'Why it failed, or why its last attempt failed while a retry is pending; null otherwise.',
  ),
  retry_of: UuidSchema.nullable().describe('The failed or cancelled job this one manually retries.'),
  cancel_requested: z.boolean().describe('A cancel was asked for; a processing job stops at its next step.'),
  challenge: JobChallengeWireSchema.nullable().describe(
    'While the institution waits for the user (a one-time code): what it asks. Answer with `POST /jobs/{job_id}/mfa`.',
  ),
  version: z
    .number()
    .int()
    .min(1)
    .describe('+1 on every change of the job: a webhook receiver drops an event older than the one it applied.'),
});
export type JobSummaryWire = z.infer<typeof JobSummarySchema>;

/** One step of a job on the wire. */
export const JobStepWireSchema = z.object({
  name: z.enum(STEP_NAMES as [StepName, ...StepName[]]).describe('The step, in the order the action runs them.'),
  status: z.enum(STEP_STATUSES).describe('Progress of the step in the current attempt.'),
  started_at: nullableDate.describe('When the step started.'),
  finished_at: nullableDate.describe('When the step ended.'),
  error: JobErrorWireSchema.nullable().describe('Why the step failed, if it did.'),
});

/** One recorded status change. */
export const JobTransitionWireSchema = z.object({
  from: statusEnum.describe('Status before the change.'),
  to: statusEnum.describe('Status after the change.'),
  at: isoDateTime.describe('When it changed.'),
  reason: z.string().describe('Why it changed (e.g. `claimed`).'),
  actor: z.string().describe('Who made the change: an API key, or the engine (a worker, the sweeper).'),
  attempt: z.number().int().min(0).describe('The attempt the change belongs to.'),
});
export type JobTransitionWire = z.infer<typeof JobTransitionWireSchema>;

/** One attempt of a job. */
export const JobAttemptWireSchema = z.object({
  attempt: z.number().int().min(0).describe('Its number (1 for the first).'),
  started_at: isoDateTime.describe('When a worker claimed the job for it.'),
  finished_at: nullableDate.describe('When it ended (null while running).'),
  outcome: z
    .enum(ATTEMPT_OUTCOMES)
    .describe(
      '`running`, `success`, `failed`, `requeued` (a retryable error: another attempt follows) or `cancelled`.',
    ),
  error: JobErrorWireSchema.nullable().describe('Why it failed or was requeued.'),
  worker: z.string().describe('The worker that ran it.'),
  steps: z
    .array(JobStepWireSchema)
    .describe(
      "Its steps as the attempt left them (the running attempt's as they progress). Empty for an earlier attempt that ended before steps were kept per attempt.",
    ),
});
export type JobAttemptWire = z.infer<typeof JobAttemptWireSchema>;

/** A whole job: `GET /jobs/:job_id`. */
export const JobDetailSchema = JobSummarySchema.extend({
  steps: z.array(JobStepWireSchema).describe('Progress of the current (or last) attempt, step by step.'),
  result: z
    .record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a lower-case name'), z.number())
    .nullable()
    .describe('What a successful job did, e.g. `{"accounts": 3, "transactions": 412}`; null otherwise.'),
  requested_by: z
    .object({ id: z.string(), name: z.string() })
    .nullable()
    .describe('The API key (id and name) that started it.'),
  // The worker's lease (owner, expiry) is the engine's business, not the tenant's: not on the wire.
  deadline_at: nullableDate.describe('When the running attempt is stopped as `job-timed-out`.'),
  cancel_requested_at: nullableDate.describe('When a cancel was asked for.'),
  expires_at: nullableDate.describe('When the retention cleanup deletes the job (null while it is not finished).'),
  transitions: z.array(JobTransitionWireSchema).describe('Every status change, oldest first.'),
  attempts: z.array(JobAttemptWireSchema).describe('Every attempt, oldest first.'),
});
export type JobDetailWire = z.infer<typeof JobDetailSchema>;

/** One log line of a job. */
export const JobLogLineSchema = z.object({
  seq: z.number().int().describe('Order of the line within the job: 1 for its first line, then 2, 3...'),
  at: isoDateTime.describe('When it was written.'),
  level: z.enum(['debug', 'info', 'warn', 'error']),
  step: z.string().nullable().describe('The step it belongs to, if any.'),
  message: z.string(),
});
export type JobLogLineWire = z.infer<typeof JobLogLineSchema>;

/** A connection on the wire. Credentials never appear here. */
export const ConnectionSchema = z.object({
  connection_id: UuidSchema.describe('The connection, unique.'),
  institution_id: z.string().describe('The bank (`sandbox` for the built-in test institution).'),
  login_id: z.string().describe("The user's login at the bank (the password is never returned)."),
  user_ref: z.string().nullable().describe('Your own reference of the end user, if given.'),
  created_at: isoDateTime.describe('When the connection was created.'),
  status: z
    .enum(CONNECTION_STATUSES)
    .describe(
      'From its latest finished refresh: `pending` (none yet, or new credentials being verified), `active`, `invalid` (credentials rejected), `action-required` (the user must act at the bank), `unavailable` (the institution failed).',
    ),
  credentials_updated_at: nullableDate.describe('When the credentials were last replaced (null: never).'),
  refresh_every_hours: z
    .number()
    .int()
    .nullable()
    .describe('How often it is refreshed automatically (null: only on request).'),
  next_refresh_at: nullableDate.describe('When the next scheduled refresh is due (null: none scheduled).'),
  latest_job: JobSummarySchema.nullable().describe('Its newest job.'),
});
export type ConnectionWire = z.infer<typeof ConnectionSchema>;

/**
 * A string field's type error: "is required" when it is missing, "must be a string" when it has
 * another type (`{"login_id": 5}` is not a missing login).
 */
const stringTypeError = (issue: { input?: unknown }) =>
  issue.input === undefined ? 'is required' : 'must be a string';

const slug = z
  .string({ error: stringTypeError })
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes');

/** A connection's refresh schedule, in hours (null: on request only). */
const refreshEveryHours = z
  .number({ message: 'must be a whole number of hours' })
  .int('must be a whole number of hours')
  .min(1, 'must be between 1 and 720')
  .max(720, 'must be between 1 and 720')
  .nullable()
  .optional();

/** The body of `POST /connections`. Unknown fields are refused. */
export const CreateConnectionBodySchema = z.strictObject({
  institution_id: slug,
  login_id: z.string({ error: stringTypeError }).min(1, 'must not be empty').max(128, 'must be at most 128 characters'),
  password: z.string({ error: stringTypeError }).min(1, 'must not be empty').max(256, 'must be at most 256 characters'),
  user_ref: z
    .string({ error: stringTypeError })
    .min(1, 'must not be empty')
    .max(128, 'must be at most 128 characters')
    .optional(),
  refresh_every_hours: refreshEveryHours.describe(
    'Refresh automatically every so many hours (default: the tenant default, unset = on request only).',
  ),
});
export type CreateConnectionBody = z.infer<typeof CreateConnectionBodySchema>;

/** The body of `PATCH /connections/:connection_id`: new credentials, a new schedule, or both. */
export const UpdateConnectionBodySchema = z
  .strictObject({
    login_id: z
      .string({ error: stringTypeError })
      .min(1, 'must not be empty')
      .max(128, 'must be at most 128 characters')
      .optional(),
    password: z
      .string({ error: stringTypeError })
      .min(1, 'must not be empty')
      .max(256, 'must be at most 256 characters')
      .optional(),
    refresh_every_hours: refreshEveryHours,
  })
  .refine((b) => b.login_id === undefined || b.password !== undefined, {
    message: 'is required with a new login_id',
    path: ['password'],
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'must change something', path: [] });
export type UpdateConnectionBody = z.infer<typeof UpdateConnectionBodySchema>;

/** `200/202` answer of `PATCH /connections/:connection_id` (`job`: the refresh verifying new credentials). */
export const UpdateConnectionResponseSchema = z.object({
  connection: ConnectionSchema,
  job: JobSummarySchema.optional(),
});
export type UpdateConnectionResponse = z.infer<typeof UpdateConnectionResponseSchema>;

/** The body of the action endpoints (refresh, purge, retry, cancel): empty or `{}`. */
export const EmptyBodySchema = z.strictObject({});

/** `201/202` answer of `POST /connections`. */
export const CreateConnectionResponseSchema = z.object({ connection: ConnectionSchema, job: JobSummarySchema });

/**
 * A whole number written in decimal digits only. `Number()` (and so `z.coerce`) also reads
 * `1e1`, `0x10`, ` 10`, `+10` and `10.0`; a query string is text, and text that is not plainly a
 * number is refused rather than guessed at.
 */
const decimalInt = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && /^[0-9]{1,15}$/.test(v) ? Number(v) : v), schema);

const limitSchema = decimalInt(
  z
    .number({ message: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, `must be between 1 and ${MAX_PAGE_SIZE}`)
    .max(MAX_PAGE_SIZE, `must be between 1 and ${MAX_PAGE_SIZE}`)
    // Inside the preprocess, so the OpenAPI document still shows the default.
    .default(DEFAULT_PAGE_SIZE),
);

/** An opaque keyset cursor, as found in a `Link: rel="next"` header. */
const cursorSchema = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[A-Za-z0-9_-]+$/, 'is not a valid cursor');

/** `status=failed,cancelled` and `status=failed&status=cancelled` both mean "either". */
const statusListSchema = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v.split(',')
      : Array.isArray(v)
        ? v.flatMap((x) => (typeof x === 'string' ? x.split(',') : [x]))
        : v,
  z.array(statusEnum).min(1),
);

/** The filters and paging shared by every list of jobs (a connection's history, the search). */
const jobListQueryFields = {
  status: statusListSchema.optional(),
  action: actionEnum.optional(),
  from: isoDateTime.optional(),
  to: isoDateTime.optional(),
  limit: limitSchema,
  cursor: cursorSchema.optional(),
};

/** A time range's `from` never after its `to`. */
function fromNotAfterTo(q: { from?: string; to?: string }): boolean {
  return q.from === undefined || q.to === undefined || Date.parse(q.from) <= Date.parse(q.to);
}
const FROM_AFTER_TO = { message: 'must not be after `to`', path: ['from'] };

/** Query of `GET /connections/:connection_id/jobs`. Unknown parameters are refused. */
export const HistoryQuerySchema = z.strictObject(jobListQueryFields).refine(fromNotAfterTo, FROM_AFTER_TO);
export type HistoryQuery = z.infer<typeof HistoryQuerySchema>;

/** An error code filter: a catalogued code or an institution's own. */
const errorCodeSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, 'must be an error code');

/** Query of `GET /jobs`, the tenant-wide search. */
export const JobSearchQuerySchema = z
  .strictObject({
    error_code: errorCodeSchema.optional(),
    institution_id: slug.optional(),
    job_id: z
      .string()
      .regex(/^[0-9a-fA-F-]{1,36}$/, 'must be a job id or the start of one')
      .optional(),
    connection_id: UuidSchema.optional(),
    ...jobListQueryFields,
  })
  .refine(fromNotAfterTo, FROM_AFTER_TO);
export type JobSearchQuery = z.infer<typeof JobSearchQuerySchema>;

/** Query of `GET /connections`. */
export const ConnectionListQuerySchema = z.strictObject({
  status: z.enum(CONNECTION_STATUSES, { message: `must be one of: ${CONNECTION_STATUSES.join(', ')}` }).optional(),
  institution_id: slug.optional(),
  user_ref: z.string().min(1).max(128).optional(),
  /** A full login (exact), a user reference (exact), or the start of a connection id. */
  q: z.string().trim().min(1, 'must not be empty').max(128, 'must be at most 128 characters').optional(),
  latest_job_status: statusEnum
    .optional()
    .describe('Only connections whose latest job (of any action) has this status, e.g. `failed`.'),
  limit: limitSchema,
  cursor: cursorSchema.optional(),
});
export type ConnectionListQuery = z.infer<typeof ConnectionListQuerySchema>;

/** Most jobs one `POST /jobs/retry` retries. */
export const MAX_BULK_RETRY = 10_000;

/** The body of `POST /jobs/retry`: which finished jobs to retry. */
export const BulkRetryBodySchema = z
  .strictObject({
    status: z.enum(['failed', 'cancelled'], { message: 'must be failed or cancelled' }).default('failed'),
    action: actionEnum.optional(),
    error_code: errorCodeSchema.optional(),
    connection_id: UuidSchema.optional(),
    institution_id: slug.optional(),
    from: isoDateTime.optional(),
    to: isoDateTime.optional(),
    dry_run: z.boolean({ message: 'must be true or false' }).default(false),
  })
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) <= Date.parse(q.to), {
    message: 'must not be after `to`',
    path: ['from'],
  });
export type BulkRetryBody = z.infer<typeof BulkRetryBodySchema>;

/** Why a matching job was not retried. */
export const BULK_RETRY_SKIP_REASONS = [
  /** A newer job of the same action exists on its connection (a retry, or a new request). */
  'superseded',
  /** A job of the same action is already pending or processing on its connection. */
  'active-job',
  /** It failed with `invalid-credentials` and the credentials did not change since. */
  'credentials-update-required',
  /** Another request retried it (or changed it) first. */
  'already-retried',
  /** Beyond the per-call cap; call again. */
  'over-limit',
] as const;
export type BulkRetrySkipReason = (typeof BULK_RETRY_SKIP_REASONS)[number];

/** The answer of `POST /jobs/retry`. */
export const BulkRetryResponseSchema = z.object({
  matched: z.number().int().describe('Jobs matching the filter.'),
  retried: z.number().int().describe('New jobs created (0 on a dry run).'),
  skipped: z
    .partialRecord(z.enum(BULK_RETRY_SKIP_REASONS), z.number().int())
    .describe('Matching jobs not retried, by reason.'),
  job_ids: z.array(UuidSchema).describe('The new jobs (on a dry run: the jobs that would be retried).'),
  dry_run: z.boolean(),
});
export type BulkRetryResponse = z.infer<typeof BulkRetryResponseSchema>;

/** Query of `GET /jobs/stats`: a time range of job creation (default: the last 24 hours). */
export const JobStatsQuerySchema = z
  .strictObject({ from: isoDateTime.optional(), to: isoDateTime.optional() })
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) <= Date.parse(q.to), {
    message: 'must not be after `to`',
    path: ['from'],
  });
export type JobStatsQuery = z.infer<typeof JobStatsQuerySchema>;

/** `GET /jobs/stats`: counts of the jobs created in a time range. */
export const JobStatsSchema = z.object({
  from: isoDateTime,
  to: isoDateTime,
  total: z.number().int(),
  by_status: z.record(z.string(), z.number().int()).describe('Jobs per status.'),
  by_error_code: z
    .array(z.object({ code: z.string(), count: z.number().int() }))
    .describe('Failed jobs per error code, most frequent first.'),
  per_hour: z
    .array(z.object({ hour: isoDateTime, by_status: z.record(z.string(), z.number().int()) }))
    .describe('Jobs per hour of creation and status, oldest first (hours without jobs are left out).'),
});
export type JobStatsWire = z.infer<typeof JobStatsSchema>;

/** Query of the plain paginated lists (`GET /connections`, job logs). */
export const PageQuerySchema = z.strictObject({ limit: limitSchema, cursor: cursorSchema.optional() });
export type PageQuery = z.infer<typeof PageQuerySchema>;

/** One field-level message of a `validation-failed` problem. */
export const FieldErrorSchema = z.object({ field: z.string(), message: z.string() });
export type FieldError = z.infer<typeof FieldErrorSchema>;

/** An RFC 9457 problem+json body. `code` is a ProblemCode (kept as a string for forward compatibility). */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  code: z.string(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  errors: z.array(FieldErrorSchema).optional(),
  error_id: z.string().optional(),
});
export type Problem = z.infer<typeof ProblemSchema>;

/**
 * Field-level messages of a failed parse, e.g. `{ field: 'limit', message: 'must be between 1 and 200' }`.
 * `field` is the dotted path, prefixed by where the value came from when given (`query.limit`).
 */
export function fieldErrors(error: z.ZodError, prefix?: string): FieldError[] {
  return error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = [...(prefix ? [prefix] : []), ...issue.path.map(String)];
    if (keys.length > 0) {
      return {
        field: [...path, keys.join(',')].join('.'),
        message: `unknown field${keys.length > 1 ? 's' : ''}: ${keys.join(', ')}`,
      };
    }
    return { field: path.join('.') || (prefix ?? 'body'), message: issue.message };
  });
}

/**
 * The one parser of API errors for clients: whatever the body, a Problem comes out (a body that is
 * not problem+json, e.g. from a proxy, becomes a generic problem with the HTTP status).
 */
export function parseProblem(status: number, body: unknown): Problem {
  const parsed = ProblemSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  return {
    type: 'about:blank',
    title: status >= 500 ? 'The server failed to answer' : `Request failed with status ${status}`,
    status: status >= 400 && status <= 599 ? status : 500,
    code: status === 503 ? 'service-unavailable' : 'internal-error',
  };
}

/** `GET /me`: who the presented API key is. */
export const WhoAmISchema = z.object({
  tenant_id: UuidSchema,
  tenant_name: z.string(),
  key_id: UuidSchema,
  key_name: z.string(),
  role: z.enum(API_KEY_ROLES),
});
export type WhoAmIWire = z.infer<typeof WhoAmISchema>;

/** Query of `GET /events` (Server-Sent Events of job changes). */
export const EventsQuerySchema = z.strictObject({
  /** Only the changes of this connection. */
  connection_id: UuidSchema.optional(),
  /** A token from `POST /events/token`, for clients that cannot send headers (EventSource). */
  token: z
    .string()
    .min(1)
    .max(512)
    .regex(/^[A-Za-z0-9_.-]+$/, 'is not a valid token')
    .optional(),
  /**
   * Resume after this event id (same as the Last-Event-ID header): the opaque `id:` of an event
   * this tenant received (ids are sealed per tenant), or `0` for everything still kept.
   */
  last_event_id: z
    .string()
    .regex(/^(0|[A-Za-z0-9_-]{40,200})$/, 'must be an event id')
    .optional(),
});
export type EventsQuery = z.infer<typeof EventsQuerySchema>;

/** `POST /events/token`: a short-lived token to open an event stream without a header. */
export const EventTokenSchema = z.object({ token: z.string(), expires_at: isoDateTime });
export type EventTokenWire = z.infer<typeof EventTokenSchema>;

/** The `{key_id}` path parameter. */
export const KeyIdParamsSchema = z.strictObject({ key_id: UuidSchema });

/** An API key of the tenant as listed (`GET /keys`). The key itself is never listed. */
export const ApiKeySchema = z.object({
  key_id: UuidSchema.describe('The key (not the secret: that is shown once, when it is created).'),
  name: z.string().describe('What the key is for.'),
  role: z
    .enum(API_KEY_ROLES)
    .describe('`viewer` reads; `operator` also starts, retries and cancels; `admin` also manages.'),
  prefix: z.string().describe('The first characters of the key, to recognise it.'),
  created_at: isoDateTime.describe('When it was created.'),
  last_used_at: nullableDate.describe('Its last authenticated request, to the minute (null: never used).'),
  created_by: z
    .object({ key_id: UuidSchema, name: z.string() })
    .nullable()
    .describe('The key that created it; null for keys made by the command-line tool or at start-up.'),
});
export type ApiKeyWire = z.infer<typeof ApiKeySchema>;

/** `201` answer of `POST /keys`: the key in clear, shown this once. */
export const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().describe('The key itself, shown this once: store it now (only its hash is kept).'),
});
export type CreatedApiKeyWire = z.infer<typeof CreatedApiKeySchema>;

/** The body of `POST /keys`. */
export const CreateApiKeyBodySchema = z.strictObject({
  name: z
    .string({ error: stringTypeError })
    .trim()
    .min(1, 'must not be empty')
    .max(100, 'must be at most 100 characters'),
  role: z.enum(API_KEY_ROLES, {
    error: (issue) => (issue.input === undefined ? 'is required' : `must be one of: ${API_KEY_ROLES.join(', ')}`),
  }),
});
export type CreateApiKeyBody = z.infer<typeof CreateApiKeyBodySchema>;

/** `GET /health`: liveness and database readiness (200 `ok`, 503 `unavailable`). */
export const HealthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  database: z.object({ kind: z.enum(['sqlite', 'postgres']), reachable: z.boolean() }),
});
export type HealthWire = z.infer<typeof HealthSchema>;

/** One institution's health: `GET /institutions` (across tenants; no tenant data). */
export const InstitutionSchema = z.object({
  institution_id: z.string().describe('The institution (`sandbox` for the built-in test bank).'),
  name: z.string().describe('Its display name.'),
  status: z
    .enum(INSTITUTION_STATUSES)
    .describe(
      "`operational`; `degraded` (under 80 % of the last hour's refreshes succeeded); `down` (its circuit is open: its jobs wait, its scheduled refreshes are deferred).",
    ),
  success_rate_1h: z
    .number()
    .min(0)
    .max(1)
    .nullable()
    .describe('Share of the refreshes finished in the last hour that succeeded (null: none finished).'),
  jobs_1h: z.number().int().min(0).describe('Refreshes finished in the last hour, all tenants.'),
  last_failure_at: nullableDate.describe('When a refresh to it last failed within the hour (null: none).'),
});
export type InstitutionWire = z.infer<typeof InstitutionSchema>;
