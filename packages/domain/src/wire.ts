/**
 * The wire contract: the snake_case JSON the API sends and accepts, as zod schemas (Standard
 * Schema compliant) and the types inferred from them. The API validates requests and the dashboard
 * validates responses with these very schemas.
 */
import { z } from 'zod';
import { JOB_ACTIONS, STEP_NAMES, type JobAction, type StepName } from './action.js';
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
  code: z.string().min(1),
  title: z.string(),
  detail: z.string(),
  retryable: z.boolean(),
});

/** One row of a connection's job history. */
export const JobSummarySchema = z.object({
  job_id: UuidSchema,
  connection_id: UuidSchema,
  action: actionEnum,
  status: statusEnum,
  /** When the job was triggered. */
  date: isoDateTime,
  started_at: nullableDate,
  finished_at: nullableDate,
  updated_at: isoDateTime,
  attempt: z.number().int().min(0),
  max_attempts: z.number().int().min(1),
  run_at: isoDateTime,
  error: JobErrorWireSchema.nullable(),
  retry_of: UuidSchema.nullable(),
  cancel_requested: z.boolean(),
});
export type JobSummaryWire = z.infer<typeof JobSummarySchema>;

/** One step of a job on the wire. */
export const JobStepWireSchema = z.object({
  name: z.enum(STEP_NAMES as [StepName, ...StepName[]]),
  status: z.enum(STEP_STATUSES),
  started_at: nullableDate,
  finished_at: nullableDate,
  error: JobErrorWireSchema.nullable(),
});

/** One recorded status change. */
export const JobTransitionWireSchema = z.object({
  from: statusEnum,
  to: statusEnum,
  at: isoDateTime,
  reason: z.string(),
  actor: z.string(),
  attempt: z.number().int().min(0),
});
export type JobTransitionWire = z.infer<typeof JobTransitionWireSchema>;

/** A whole job: `GET /jobs/:job_id`. */
export const JobDetailSchema = JobSummarySchema.extend({
  steps: z.array(JobStepWireSchema),
  result: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a lower-case name'), z.number()).nullable(),
  requested_by: z.object({ id: z.string(), name: z.string() }).nullable(),
  lease_owner: z.string().nullable(),
  lease_expires_at: nullableDate,
  deadline_at: nullableDate,
  cancel_requested_at: nullableDate,
  /** When the retention cleanup deletes the job (null while it is not finished). */
  expires_at: nullableDate,
  transitions: z.array(JobTransitionWireSchema),
});
export type JobDetailWire = z.infer<typeof JobDetailSchema>;

/** One log line of a job. */
export const JobLogLineSchema = z.object({
  seq: z.number().int(),
  at: isoDateTime,
  level: z.enum(['debug', 'info', 'warn', 'error']),
  step: z.string().nullable(),
  message: z.string(),
});
export type JobLogLineWire = z.infer<typeof JobLogLineSchema>;

/** A connection on the wire. Credentials never appear here. */
export const ConnectionSchema = z.object({
  connection_id: UuidSchema,
  institution_id: z.string(),
  login_id: z.string(),
  user_ref: z.string().nullable(),
  created_at: isoDateTime,
  latest_job: JobSummarySchema.nullable(),
});
export type ConnectionWire = z.infer<typeof ConnectionSchema>;

const slug = z
  .string({ message: 'is required' })
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes');

/** The body of `POST /connections`. Unknown fields are refused. */
export const CreateConnectionBodySchema = z.strictObject({
  institution_id: slug,
  login_id: z.string({ message: 'is required' }).min(1, 'must not be empty').max(128, 'must be at most 128 characters'),
  password: z.string({ message: 'is required' }).min(1, 'must not be empty').max(256, 'must be at most 256 characters'),
  user_ref: z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters').optional(),
});
export type CreateConnectionBody = z.infer<typeof CreateConnectionBodySchema>;

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

/** Query of `GET /connections/:connection_id/jobs`. Unknown parameters are refused. */
export const HistoryQuerySchema = z
  .strictObject({
    status: statusListSchema.optional(),
    action: actionEnum.optional(),
    from: isoDateTime.optional(),
    to: isoDateTime.optional(),
    limit: limitSchema,
    cursor: cursorSchema.optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) <= Date.parse(q.to), {
    message: 'must not be after `to`',
    path: ['from'],
  });
export type HistoryQuery = z.infer<typeof HistoryQuerySchema>;

/** Query of `GET /jobs`, the tenant-wide search. */
export const JobSearchQuerySchema = z
  .strictObject({
    job_id: z
      .string()
      .regex(/^[0-9a-fA-F-]{1,36}$/, 'must be a job id or the start of one')
      .optional(),
    connection_id: UuidSchema.optional(),
    status: statusListSchema.optional(),
    action: actionEnum.optional(),
    from: isoDateTime.optional(),
    to: isoDateTime.optional(),
    limit: limitSchema,
    cursor: cursorSchema.optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) <= Date.parse(q.to), {
    message: 'must not be after `to`',
    path: ['from'],
  });
export type JobSearchQuery = z.infer<typeof JobSearchQuerySchema>;

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
  /** Resume after this event id (same as the Last-Event-ID header). */
  last_event_id: z
    .string()
    .regex(/^\d{1,18}$/, 'must be an event id')
    .optional(),
});
export type EventsQuery = z.infer<typeof EventsQuerySchema>;

/** `POST /events/token`: a short-lived token to open an event stream without a header. */
export const EventTokenSchema = z.object({ token: z.string(), expires_at: isoDateTime });
export type EventTokenWire = z.infer<typeof EventTokenSchema>;
