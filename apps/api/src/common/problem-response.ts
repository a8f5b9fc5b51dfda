import { randomUUID } from 'node:crypto';
import { HttpException } from '@nestjs/common';
import {
  TransitionError,
  problemStatus,
  problemTitle,
  problemType,
  type Problem,
  type ProblemCode,
} from '@jobtrail/domain';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '@jobtrail/engine';
import { ApiProblem } from './api-problem.js';

/** Maps a Nest HttpException (routing, body parsing) to a problem code. */
function codeOfHttpException(status: number): ProblemCode {
  switch (status) {
    case 400:
      return 'validation-failed';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'route-not-found';
    case 405:
      return 'method-not-allowed';
    case 413:
      return 'payload-too-large';
    case 415:
      return 'unsupported-media-type';
    case 429:
      return 'rate-limited';
    case 503:
      return 'service-unavailable';
    default:
      return status >= 500 ? 'internal-error' : 'validation-failed';
  }
}

/** Errors raised by the body parser (`parseJsonBody`) carry a `type`. */
function codeOfBodyParserError(err: unknown): { code: ProblemCode; detail: string } | null {
  const type = (err as { type?: unknown } | null)?.type;
  switch (type) {
    case 'entity.too.large':
      return { code: 'payload-too-large', detail: 'The request body is larger than the server accepts.' };
    case 'entity.parse.failed':
      return { code: 'validation-failed', detail: 'The request body is not valid JSON.' };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { code: 'unsupported-media-type', detail: 'The request body must be UTF-8 JSON.' };
    case 'encoding.invalid-utf8':
      return { code: 'validation-failed', detail: 'The request body is not valid UTF-8.' };
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return { code: 'validation-failed', detail: 'The request body could not be read.' };
    default:
      return null;
  }
}

/**
 * Errors Fastify and its plugins raise before a handler runs (`FST_*` codes, or `http-errors`
 * marked `expose`, with the status they would answer): a body over the limit, a body shorter than
 * its `Content-Length`, a malformed URL, a path the static file server refuses.
 */
function codeOfFastifyError(err: unknown): { code: ProblemCode; detail: string } | null {
  const { code, statusCode, status, expose } = (err ?? {}) as Record<string, unknown>;
  const fromFastify = (typeof code === 'string' && code.startsWith('FST_')) || expose === true;
  const httpStatus = typeof statusCode === 'number' ? statusCode : typeof status === 'number' ? status : undefined;
  if (!fromFastify || httpStatus === undefined || httpStatus < 400 || httpStatus >= 500) return null;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'payload-too-large', detail: 'The request body is larger than the server accepts.' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'validation-failed', detail: 'The request body could not be read.' };
    case 'FST_ERR_BAD_URL':
      return { code: 'validation-failed', detail: 'The request URL is not validly encoded.' };
  }
  // A file the static server refuses (a path out of its folder) is no route, as any unknown path.
  if (httpStatus === 403 || httpStatus === 404)
    return { code: 'route-not-found', detail: 'No route matches this method and path.' };
  return { code: codeOfHttpException(httpStatus), detail: 'The request could not be read.' };
}

/**
 * Turns anything thrown while answering into a problem+json body. Nothing of an unexpected error
 * (message, stack, SQL) reaches the client: it is logged under an `error_id` given back instead.
 */
export function toProblem(
  err: unknown,
  instance: string,
  log: Logger,
): { problem: Problem; headers: Record<string, string> } {
  const make = (code: ProblemCode, detail?: string): Problem => ({
    type: problemType(code),
    title: problemTitle(code),
    status: problemStatus(code),
    code,
    ...(detail ? { detail } : {}),
    instance,
  });
  if (err instanceof ApiProblem) {
    const problem = make(err.code, err.detail);
    if (err.extras.errors) problem.errors = [...err.extras.errors];
    return { problem, headers: { ...err.extras.headers } };
  }
  if (err instanceof TransitionError) return { problem: make('illegal-transition', err.message), headers: {} };
  // Nest's Fastify adapter wraps Fastify's and its plugins' 4xx errors in an HttpException whose
  // cause is the original: that says more than the status alone.
  const cause = err instanceof HttpException ? err.cause : undefined;
  const bodyError = codeOfBodyParserError(err) ?? codeOfFastifyError(cause ?? err);
  if (bodyError) return { problem: make(bodyError.code, bodyError.detail), headers: {} };
  if (err instanceof HttpException) {
    const code = codeOfHttpException(err.getStatus());
    const detail = code === 'route-not-found' ? 'No route matches this method and path.' : undefined;
    return { problem: make(code, detail), headers: {} };
  }
  const errorId = randomUUID();
  if (isDatabaseUnavailable(err)) {
    log.warn({ err: safeError(err), error_id: errorId }, 'database unavailable');
    return {
      problem: {
        ...make('service-unavailable', 'The database is unavailable; retry in a few seconds.'),
        error_id: errorId,
      },
      headers: { 'Retry-After': '2' },
    };
  }
  log.error({ err: safeError(err), error_id: errorId }, 'unexpected error');
  return {
    problem: { ...make('internal-error', `Quote error id ${errorId} when reporting this.`), error_id: errorId },
    headers: {},
  };
}

/** An error for the log: name, message, stack and code only (driver errors carry query parameters). */
function safeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  return { name: err.name, message: err.message, code: (err as { code?: unknown }).code, stack: err.stack };
}

/** Writes a problem+json response (or ends one whose headers already left, e.g. a stream's). */
export function sendProblem(reply: FastifyReply, problem: Problem, headers: Record<string, string> = {}): void {
  if (reply.sent || reply.raw.headersSent) {
    if (!reply.raw.writableEnded) reply.raw.end();
    return;
  }
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  if (problem.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="jobtrail"');
  reply.code(problem.status).type('application/problem+json; charset=utf-8').send(JSON.stringify(problem));
}
