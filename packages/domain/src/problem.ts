import { assertNever } from './assert-never.js';

/**
 * The stable `code` of every problem+json error the API answers with. Clients branch on these,
 * never on titles or messages.
 */
export const PROBLEM_CODES = [
  /** The request (path, query, headers or body) does not match the contract; see `errors`. */
  'validation-failed',
  /** No API key, or a key that is unknown or revoked. */
  'unauthorized',
  /** The key's role does not allow this operation. */
  'forbidden',
  /** No such resource for this tenant (another tenant's resource is answered the same way). */
  'not-found',
  /** No such route. */
  'route-not-found',
  /** The route exists but not with this method. */
  'method-not-allowed',
  /** The state machine refuses the change (e.g. retrying a successful job). */
  'illegal-transition',
  /** The job failed with `invalid-credentials`: update the connection's credentials before retrying it. */
  'credentials-update-required',
  /** No one-time-code challenge waits on this job (never asked, already answered, or the job ended). */
  'challenge-not-waiting',
  /** The one-time code is wrong; the third wrong code fails the job with `mfa-failed`. */
  'mfa-code-invalid',
  /** The same Idempotency-Key was used with a different request body. */
  'idempotency-key-reused',
  /** A request with this Idempotency-Key is still being processed. */
  'idempotency-key-in-flight',
  /** The key to revoke is the tenant's last active admin key: create another admin key first. */
  'last-admin-key',
  /** The request body is larger than the server accepts. */
  'payload-too-large',
  /** The request body is not JSON. */
  'unsupported-media-type',
  /** Too many requests for this API key; see Retry-After and the RateLimit-* headers. */
  'rate-limited',
  /**
   * The connection was refreshed as often as it may be within the hour; see Retry-After and the
   * RateLimit-* headers, which describe this limit (not the key's).
   */
  'refresh-limit-exceeded',
  /** The database or another dependency is unavailable; retry later. */
  'service-unavailable',
  /** An unexpected error; the `error_id` identifies it in the server logs. */
  'internal-error',
] as const;

/** A problem code; see {@link PROBLEM_CODES}. */
export type ProblemCode = (typeof PROBLEM_CODES)[number];

/** The one table from problem code to HTTP status. */
export function problemStatus(code: ProblemCode): number {
  switch (code) {
    case 'validation-failed':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not-found':
    case 'route-not-found':
      return 404;
    case 'method-not-allowed':
      return 405;
    case 'illegal-transition':
    case 'credentials-update-required':
    case 'challenge-not-waiting':
    case 'idempotency-key-in-flight':
    case 'last-admin-key':
      return 409;
    case 'payload-too-large':
      return 413;
    case 'unsupported-media-type':
      return 415;
    case 'idempotency-key-reused':
    case 'mfa-code-invalid':
      return 422;
    case 'rate-limited':
    case 'refresh-limit-exceeded':
      return 429;
    case 'internal-error':
      return 500;
    case 'service-unavailable':
      return 503;
    default:
      return assertNever(code, 'problem code');
  }
}

/** The default human title of each problem code. */
export function problemTitle(code: ProblemCode): string {
  switch (code) {
    case 'validation-failed':
      return 'The request is not valid';
    case 'unauthorized':
      return 'A valid API key is required';
    case 'forbidden':
      return 'This API key may not do that';
    case 'not-found':
      return 'Not found';
    case 'route-not-found':
      return 'No such route';
    case 'method-not-allowed':
      return 'Method not allowed';
    case 'illegal-transition':
      return 'The job does not allow this change';
    case 'credentials-update-required':
      return 'Update the credentials before retrying';
    case 'challenge-not-waiting':
      return 'No one-time code is waited for';
    case 'mfa-code-invalid':
      return 'The one-time code is wrong';
    case 'idempotency-key-reused':
      return 'Idempotency-Key reused with another request';
    case 'idempotency-key-in-flight':
      return 'A request with this Idempotency-Key is in progress';
    case 'last-admin-key':
      return "The tenant's last admin key cannot be revoked";
    case 'payload-too-large':
      return 'Request body too large';
    case 'unsupported-media-type':
      return 'Request body must be JSON';
    case 'rate-limited':
      return 'Too many requests';
    case 'refresh-limit-exceeded':
      return 'Refresh limit of the connection reached';
    case 'service-unavailable':
      return 'Service temporarily unavailable';
    case 'internal-error':
      return 'Internal server error';
    default:
      return assertNever(code, 'problem code');
  }
}

/** True for a string that is a known problem code. */
export function isProblemCode(value: unknown): value is ProblemCode {
  return typeof value === 'string' && (PROBLEM_CODES as readonly string[]).includes(value);
}

/** The `type` URI of a problem code (RFC 9457 §3.1.1). */
export function problemType(code: ProblemCode): string {
  return `https://jobtrail.dev/problems/${code}`;
}
