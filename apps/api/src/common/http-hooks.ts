import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/**
 * Security headers on every response, errors included (an `onRequest` hook; also called for the
 * errors Fastify's router answers before any hook runs).
 */
export function securityHeaders(req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  reply.header('X-Content-Type-Options', 'nosniff');
  reply.header('X-Frame-Options', 'DENY');
  reply.header('Referrer-Policy', 'no-referrer');
  if (req.url.startsWith('/api/')) reply.header('Cache-Control', 'no-store');
  // Fastify's request id is the one `requestId` chose; echoed so a caller can quote it.
  reply.header('X-Request-Id', req.id);
  done();
}

/**
 * A request id (Fastify's `genReqId`): the caller's `X-Request-Id` when it is sane, else a new one.
 * `securityHeaders` echoes it back.
 */
export function requestId(req: { headers: IncomingHttpHeaders }): string {
  const given = req.headers['x-request-id'];
  // No underscore: an API key (`jt_...`) pasted into the header is never echoed or logged.
  return typeof given === 'string' && /^[A-Za-z0-9.-]{1,64}$/.test(given) ? given : randomUUID();
}

/** The error type of a body that is not valid UTF-8 (mapped to a 400 by the problem mapper). */
export const INVALID_UTF8 = 'encoding.invalid-utf8';

/** An error of the body parser, typed as the problem mapper expects (`codeOfBodyParserError`). */
const bodyError = (type: string, message: string) => Object.assign(new Error(message), { type });

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The decoders of the content codings Express's parser accepted (`Content-Encoding`). */
const DECODERS: Record<string, (buf: Buffer, options: { maxOutputLength: number }) => Buffer> = {
  identity: (buf) => buf,
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/**
 * The one body parser (a Fastify content-type parser for every type): JSON bodies only, valid
 * UTF-8, an object or an array (as Express's strict JSON parser), at most `limit` bytes once
 * decompressed. Fastify has read at most `limit` bytes by then (413 beyond it). Each failure is an
 * error whose `type` the problem mapper turns into problem+json: 415 for another media type,
 * charset or coding, 413 for a body that inflates past the limit, 400 for bytes that are not UTF-8
 * (a lenient decoder would store U+FFFD where the client sent something else) or not JSON.
 */
export function jsonBodyParser(limit: number) {
  return (req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    // An empty body (`Content-Length: 0`) is no body, whatever its declared type.
    if (body.length === 0) return done(null, undefined);
    const type = req.headers['content-type'] ?? '';
    if (!JSON_TYPE.test(type)) return done(bodyError('charset.unsupported', 'unsupported media type'));
    const charset = CHARSET.exec(type)?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset))
      return done(bodyError('charset.unsupported', `unsupported charset "${charset}"`));
    const coding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    const decode = Object.hasOwn(DECODERS, coding) ? DECODERS[coding] : undefined;
    if (decode === undefined) return done(bodyError('encoding.unsupported', `unsupported content coding "${coding}"`));
    let text: string;
    try {
      let bytes: Buffer;
      try {
        bytes = decode(body, { maxOutputLength: limit });
      } catch (err) {
        const tooLarge = (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
        return done(
          tooLarge
            ? bodyError('entity.too.large', 'the request body inflates past the limit')
            : bodyError('entity.parse.failed', 'the request body could not be decompressed'),
        );
      }
      text = utf8.decode(bytes);
    } catch {
      return done(bodyError(INVALID_UTF8, 'the request body is not valid UTF-8'));
    }
    const first = /^[ \t\n\r]*(.)/.exec(text)?.[1];
    if (first !== '{' && first !== '[') return done(bodyError('entity.parse.failed', 'the request body is not JSON'));
    try {
      done(null, JSON.parse(text));
    } catch {
      done(bodyError('entity.parse.failed', 'the request body is not valid JSON'));
    }
  };
}

/** Whether a request carries a body (RFC 9112 §6.3): a non-zero length, or a transfer coding. */
const hasBody = (headers: IncomingHttpHeaders) =>
  Number(headers['content-length'] ?? 0) > 0 || headers['transfer-encoding'] !== undefined;

/** Reads a request's body up to `limit` bytes (413 beyond, as Fastify's own reading does). */
function readBody(raw: IncomingMessage, limit: number, done: (err: Error | null, body?: Buffer) => void): void {
  if (Number(raw.headers['content-length'] ?? 0) > limit)
    return done(bodyError('entity.too.large', 'the request body is over the limit'));
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const finish = (err: Error | null, body?: Buffer) => {
    if (settled) return;
    settled = true;
    raw.off('data', onData);
    raw.off('end', onEnd);
    raw.off('error', onError);
    raw.off('close', onClose);
    done(err, body);
  };
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) finish(bodyError('entity.too.large', 'the request body is over the limit'));
    else chunks.push(chunk);
  };
  const onEnd = () => finish(null, Buffer.concat(chunks));
  const onError = () => finish(bodyError('request.aborted', 'the request body could not be read'));
  const onClose = () => finish(bodyError('request.aborted', 'the request body could not be read'));
  raw.on('data', onData);
  raw.on('end', onEnd);
  raw.on('error', onError);
  raw.on('close', onClose);
}

/**
 * Fastify reads no body on GET and HEAD (nor on a DELETE without a content type). A body sent
 * there anyway is checked as any other, by `jsonBodyParser` (415, 413, 400), then ignored: a
 * malformed request is refused whatever its method, as it was under Express, whose parser read
 * every body. A `preValidation` hook: it runs before the guards, as the parser does.
 */
export function unparsedBodyCheck(limit: number) {
  const parse = jsonBodyParser(limit);
  return (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (req.body !== undefined || !hasBody(req.headers) || req.raw.readableEnded) return done();
    readBody(req.raw, limit, (err, body) => {
      if (err !== null || body === undefined) return done(err ?? undefined);
      parse(req, body, (parseErr) => done(parseErr ?? undefined));
    });
  };
}
