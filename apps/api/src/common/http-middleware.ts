import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { sendProblem, toProblem } from './problem-response.js';

/** Security headers on every response, errors included. */
export function securityHeaders(req: Request, res: Response, next: NextFunction): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  if (req.path.startsWith('/api/')) res.setHeader('Cache-Control', 'no-store');
  next();
}

/** A request id: the caller's `X-Request-Id` when it is sane, else a new one; echoed back. */
export function requestId(req: Request, res: Response): string {
  const given = req.headers['x-request-id'];
  // No underscore: an API key (`jt_...`) pasted into the header is never echoed or logged.
  const id = typeof given === 'string' && /^[A-Za-z0-9.-]{1,64}$/.test(given) ? given : randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}

/** The error type of a body that is not valid UTF-8 (mapped to a 400 by the problem mapper). */
export const INVALID_UTF8 = 'encoding.invalid-utf8';

/**
 * Refuses a UTF-8 body with invalid byte sequences. The JSON parser decodes leniently, replacing
 * them with U+FFFD: a login or password would then be stored as something the client never sent.
 */
function verifyUtf8(_req: unknown, _res: unknown, buf: Buffer, encoding: string): void {
  if (!/^utf-?8$/i.test(encoding)) return;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw Object.assign(new Error('the request body is not valid UTF-8'), { type: INVALID_UTF8, status: 400 });
  }
}

/**
 * JSON bodies only, up to `limit` bytes, valid UTF-8. Parser errors (too large, malformed, not
 * JSON, not UTF-8) become problem+json here: Express would otherwise answer them with an HTML page.
 */
export function jsonBody(limit: number, log: Logger) {
  const parse = express.json({ limit, strict: true, type: () => true, verify: verifyUtf8 });
  return (req: Request, res: Response, next: NextFunction) => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) return next();
    const type = req.headers['content-type'] ?? '';
    const instance = req.originalUrl.split('?')[0] ?? '/';
    if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
      const err = Object.assign(new Error('unsupported media type'), { type: 'charset.unsupported' });
      const { problem, headers } = toProblem(err, instance, log);
      return sendProblem(res, problem, headers);
    }
    parse(req, res, (err?: unknown) => {
      if (!err) return next();
      const { problem, headers } = toProblem(err, instance, log);
      sendProblem(res, problem, headers);
    });
  };
}
