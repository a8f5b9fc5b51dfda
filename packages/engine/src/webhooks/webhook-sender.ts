import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { resolveWebhookTarget, UnsafeWebhookUrlError, type TargetPolicy } from './url-safety.js';

/** What one attempt got: a status code (any), or an error before a response. */
export interface SendResult {
  readonly statusCode: number | null;
  /** The response body's first 1 KB. */
  readonly body: string | null;
  readonly error: string | null;
  readonly durationMs: number;
}

/** Response bodies are kept for the delivery log, never more than this. */
export const RESPONSE_BODY_LIMIT = 1024;

/**
 * Sends one webhook request. The host is resolved and every address checked first, and the
 * connection goes to the very address that was checked (the request's `lookup` answers with it),
 * so a host that changes its answer between check and connect cannot reach a private address.
 * Redirects are not followed (node's client never does): a 3xx is an answer like any other.
 * The timeout bounds the whole exchange, connection to last byte read.
 */
export async function sendWebhook(
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  policy: TargetPolicy,
  timeoutMs: number,
): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let url: URL;
  let target: { address: string; family: 4 | 6 };
  try {
    url = new URL(rawUrl);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowPrivate))
      throw new UnsafeWebhookUrlError('must be an https URL');
    target = await resolveWebhookTarget(url, policy);
  } catch (err) {
    const message = err instanceof UnsafeWebhookUrlError ? `refused: ${err.message}` : String(err);
    return { statusCode: null, body: null, error: message, durationMs: elapsed() };
  }
  const lookup: LookupFunction = (_host, options, callback) => {
    // `all: true` callers (happy eyeballs) want an array; others one address.
    if ((options as { all?: boolean }).all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<SendResult>((resolve) => {
    let done = false;
    const finish = (r: Omit<SendResult, 'durationMs'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, durationMs: elapsed() });
    };
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < RESPONSE_BODY_LIMIT) chunks.push(chunk);
          size += chunk.length;
          // Enough kept: the rest is not read (nor waited for).
          if (size >= RESPONSE_BODY_LIMIT) {
            res.destroy();
            settle();
          }
        });
        const settle = () =>
          finish({
            statusCode: res.statusCode ?? null,
            body: Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8'),
            error: null,
          });
        res.on('end', settle);
        res.on('close', settle);
        res.on('error', settle);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish({ statusCode: null, body: null, error: `timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (err) => finish({ statusCode: null, body: null, error: err.message }));
    req.end(body);
  });
}
