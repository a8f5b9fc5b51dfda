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

/**
 * JSON bodies only, up to `limit` bytes. Parser errors (too large, malformed, not JSON) become
 * problem+json here: Express would otherwise answer them with an HTML page.
 */
export function jsonBody(limit: number, log: Logger) {
  const parse = express.json({ limit, strict: true, type: () => true });
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
