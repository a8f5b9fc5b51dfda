import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One answer, as the wire carried it. */
export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** Milliseconds from sending to the end of the answer (or its headers, for a stream). */
  readonly ms: number;
}

export interface RawRequest {
  readonly method: string;
  /** Path and query, sent as given (no encoding is added). */
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** Sent as is; `Content-Length` is set from it unless `chunked`. */
  readonly body?: string | Buffer;
  /** Send the body with `Transfer-Encoding: chunked` instead of a length. */
  readonly chunked?: boolean;
  /** Give up after this long (the promise rejects). */
  readonly timeoutMs?: number;
}

/**
 * One request over plain node:http, with full control of the method, path, headers and body bytes
 * (supertest would encode and add headers). A `text/event-stream` answer is resolved as soon as its
 * headers arrive, and the connection dropped.
 */
export function send(server: Server | string, req: RawRequest): Promise<RawResponse> {
  const { host, port } =
    typeof server === 'string'
      ? parseBase(server)
      : { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined && !req.chunked) headers['Content-Length'] = String(Buffer.byteLength(req.body));
    if (req.chunked) headers['Transfer-Encoding'] = 'chunked';
    const r = httpRequest(
      { host, port, method: req.method.toUpperCase(), path: req.path, headers, agent: false },
      (res) => {
        const status = res.statusCode ?? 0;
        if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          resolve({ status, headers: res.headers, text: '', ms: performance.now() - started });
          r.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          resolve({
            status,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    const timeoutMs = req.timeoutMs ?? 15_000;
    r.setTimeout(timeoutMs, () =>
      r.destroy(new Error(`no answer to ${req.method} ${req.path} within ${timeoutMs} ms`)),
    );
    r.on('error', (err: NodeJS.ErrnoException) => {
      // The server may answer (413, 415) and close before the whole body went out.
      reject(err);
    });
    r.end(req.body);
  });
}

function parseBase(base: string): { host: string; port: number } {
  const u = new URL(base);
  return { host: u.hostname, port: Number(u.port) };
}

/** Runs `tasks` with at most `concurrency` in flight; results in order. */
export async function inBatches<T>(tasks: readonly (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return out;
}

/** Headers of an answer, lower-cased, as `name: value` lines (for secret scans). */
export function headerText(headers: IncomingHttpHeaders): string {
  return Object.entries(headers)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`)
    .join('\n');
}
