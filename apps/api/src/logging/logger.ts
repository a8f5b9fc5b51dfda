import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { logFormatSetting, type LogFormatSetting } from '../config/app-config.js';

/** How log lines are written: JSON lines (machines) or coloured text lines (a person at a terminal). */
export type LogFormat = 'json' | 'pretty';

/** `auto` means pretty exactly when the output is a terminal: CI, containers and pipes get JSON. */
export function resolveLogFormat(setting: LogFormatSetting, isTty: boolean): LogFormat {
  switch (setting) {
    case 'auto':
      return isTty ? 'pretty' : 'json';
    case 'json':
    case 'pretty':
      return setting;
  }
}

/** Fields the pretty lines leave out: the request line says it all, and `context` is in the message. */
const PRETTY_IGNORED = 'pid,hostname,context,req,res,responseTime';

/**
 * Structured logs. Credentials and keys are redacted by path wherever they could appear; request
 * bodies and headers are never logged in the first place. Redaction happens in pino, before either
 * format is written, so the pretty lines are as clean as the JSON ones.
 *
 * With no `destination` (the process's own logger), lines go to stdout in the format of
 * `JOBTRAIL_LOG_FORMAT` (or `format`); a given destination (tests) gets JSON unless told otherwise.
 */
export function createLogger(level: string, destination?: DestinationStream, format?: LogFormatSetting): Logger {
  const resolved =
    destination === undefined
      ? resolveLogFormat(format ?? logFormatSetting(), Boolean(process.stdout.isTTY))
      : resolveLogFormat(format ?? 'json', false);
  const target =
    resolved === 'pretty'
      ? pinoPretty({
          destination: destination ?? 1,
          // Colours only for a terminal; a forced `pretty` into a file or pipe stays plain text.
          colorize: destination === undefined && Boolean(process.stdout.isTTY),
          sync: true,
          singleLine: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: PRETTY_IGNORED,
          messageFormat: '{if context}[{context}] {end}{msg}',
        })
      : destination;
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: [
          'password',
          '*.password',
          '*.*.password',
          'authorization',
          '*.authorization',
          'req.headers',
          'credentials',
          '*.credentials',
          'key',
          '*.key',
        ],
        censor: '[redacted]',
      },
    },
    target,
  );
}

/** What the request log reads of a request: Fastify's request, or its Node.js one under `raw`. */
interface LoggedRequest {
  readonly id: string;
  readonly raw: Pick<IncomingMessage, 'method' | 'url'>;
}

/**
 * The path of a request, without its query string (a query may carry an event token): what log
 * lines, problem `instance`s and idempotency fingerprints name.
 */
export const requestPath = (req: { readonly raw: { readonly url?: string } }) =>
  (req.raw.url ?? '/').split('?')[0] ?? '/';

/** What a log line says of a request: no headers (API keys), no body (credentials), no query. */
const requestFields = (req: LoggedRequest) => ({ id: req.id, method: req.raw.method, url: requestPath(req) });

/** A logger bound to one request (its id, method and path), for what its handling logs. */
export function requestLog(logger: Logger, req: LoggedRequest): Logger {
  return logger.child({ req: requestFields(req) });
}

/**
 * One line per request (a Fastify `onRequest` hook), when its answer is sent or its connection
 * closes first, saying `GET /api/jobs 200 4ms` (info) or `GET /api/jobs 500 failed` (error, for a
 * 5xx); the JSON line carries `req` (id, method, path), `res.statusCode` and `responseTime` (ms) as
 * fields. It listens on the Node.js response, so a hijacked reply (an event stream) is logged too.
 *
 * Written here, not with pino-http or Fastify's logger: a child logger per request, made before
 * the request is handled, was a tenth of a history page's CPU (issue 13). `requestLog` makes one
 * only when something logs.
 */
export function requestLogger(logger: Logger) {
  return (req: LoggedRequest, reply: { readonly raw: ServerResponse }, done: () => void): void => {
    const started = Date.now();
    const res = reply.raw;
    const finished = (err?: unknown) => {
      res.off('finish', finished);
      res.off('close', finished);
      res.off('error', finished);
      const responseTime = Date.now() - started;
      const fields = { req: requestFields(req), res: { statusCode: res.statusCode }, responseTime };
      const line = `${req.raw.method} ${requestPath(req)} ${res.statusCode}`;
      if (err !== undefined || res.statusCode >= 500)
        logger.error(
          { ...fields, err: err ?? new Error(`failed with status code ${res.statusCode}`) },
          `${line} failed`,
        );
      else logger.info(fields, `${line} ${responseTime}ms`);
    };
    res.on('finish', finished);
    res.on('close', finished);
    res.on('error', finished);
    done();
  };
}

/**
 * Nest's start-up chatter (each module loaded, each route mapped): debug, not info, so a start
 * shows the banner and what an operator needs. Their warnings and errors are kept.
 */
const START_UP_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/** Nest's own messages (start-up, routes) through the same pino logger. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    if (context !== undefined && START_UP_CONTEXTS.has(context)) this.logger.debug({ context }, String(message));
    else this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
