import { describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { createLogger, requestLog, requestLogger } from '../../src/logging/logger.js';

/** A logger writing JSON lines into an array, synchronously. */
function capture(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', sink as never, 'json'), lines };
}

/**
 * A request and its reply as the hook sees them (Fastify's, with Node's under `raw`): an id, events
 * and a status, no socket.
 */
function exchange(method: string, url: string, id: string) {
  const raw = { method, url, headers: { authorization: 'Bearer jt_secret_key' } };
  const req = { id, raw };
  const res = Object.assign(new EventEmitter(), { statusCode: 200 }) as unknown as ServerResponse;
  return { req, res, reply: { raw: res } };
}

/** Lets the pino destination's write run. */
const flushed = () => new Promise((r) => setImmediate(r));

describe('the request log', () => {
  it('writes one line when the answer is sent: id, method, path without its query, status and time', async () => {
    const { logger, lines } = capture();
    const { req, res, reply } = exchange('GET', '/api/connections/c1/jobs?cursor=secret-token', 'req-1');
    let passed = false;
    requestLogger(logger)(req, reply, () => (passed = true));
    expect(passed).toBe(true);
    res.emit('finish');
    res.emit('close');
    await flushed();
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        req: { id: 'req-1', method: 'GET', url: '/api/connections/c1/jobs' },
        res: { statusCode: 200 },
        responseTime: expect.any(Number),
        msg: expect.stringMatching(/^GET \/api\/connections\/c1\/jobs 200 \d+ms$/),
      }),
    ]);
    expect(JSON.stringify(lines)).not.toMatch(/secret/);
  });

  it('writes an error line for a 5xx answer', async () => {
    const { logger, lines } = capture();
    const { req, res, reply } = exchange('POST', '/api/connections/c1/refresh', 'req-2');
    requestLogger(logger)(req, reply, () => undefined);
    res.statusCode = 503;
    res.emit('finish');
    await flushed();
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        req: { id: 'req-2', method: 'POST', url: '/api/connections/c1/refresh' },
        res: { statusCode: 503 },
        err: expect.objectContaining({ message: 'failed with status code 503' }),
        msg: 'POST /api/connections/c1/refresh 503 failed',
      }),
    ]);
  });

  it('writes one line for a connection closed before its answer, none more when the answer ends later', async () => {
    const { logger, lines } = capture();
    const { req, res, reply } = exchange('GET', '/api/events', 'req-3');
    requestLogger(logger)(req, reply, () => undefined);
    res.emit('close');
    res.emit('finish');
    await flushed();
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/^GET \/api\/events 200 \d+ms$/)]);
  });

  it('makes a child logger only when something logs, bound to the request', async () => {
    const { logger, lines } = capture();
    let children = 0;
    const counted = new Proxy(logger, {
      get: (target, prop, receiver) =>
        prop === 'child'
          ? (...args: Parameters<Logger['child']>) => (children++, target.child(...args))
          : (Reflect.get(target, prop, receiver) as unknown),
    });
    const quiet = exchange('GET', '/api/health', 'req-4');
    requestLogger(counted)(quiet.req, quiet.reply, () => undefined);
    quiet.res.emit('finish');
    expect(children).toBe(0);

    const { req } = exchange('GET', '/api/jobs/j1?x=1', 'req-5');
    requestLogger(counted)(req, { raw: new EventEmitter() as unknown as ServerResponse }, () => undefined);
    requestLog(counted, req).warn('something the handler saw');
    expect(children).toBe(1);
    await flushed();
    expect(lines.find((l) => l.msg === 'something the handler saw')).toMatchObject({
      level: 40,
      req: { id: 'req-5', method: 'GET', url: '/api/jobs/j1' },
    });
  });
});
