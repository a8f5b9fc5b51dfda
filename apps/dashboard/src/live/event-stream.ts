import { parseProblem } from '@jobtrail/domain';
import { ApiError } from '../api/client.js';
import { SseParser, type SseMessage } from './sse-parser.js';

export interface StreamOptions {
  readonly url: string;
  readonly key: string;
  readonly lastEventId: string | null;
  readonly signal: AbortSignal;
  /** The server accepted the stream: we are live. */
  readonly onOpen: () => void;
  readonly onMessage: (message: SseMessage) => void;
  /** Any bytes at all, heartbeats included: proof the connection is alive. */
  readonly onActivity: () => void;
}

/**
 * Reads `/api/events` with fetch rather than EventSource: EventSource cannot send the
 * `Authorization` header, and putting the key in the URL would leak it into server logs and
 * history. Resolves when the server ends the stream; rejects on HTTP errors and network failures.
 */
export async function readEventStream(options: StreamOptions): Promise<void> {
  const headers: Record<string, string> = { Authorization: `Bearer ${options.key}`, Accept: 'text/event-stream' };
  if (options.lastEventId !== null) headers['Last-Event-ID'] = options.lastEventId;
  const res = await fetch(options.url, { headers, signal: options.signal, cache: 'no-store' });
  if (!res.ok || !res.body) {
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      // Not JSON: parseProblem makes a generic problem from the status.
    }
    throw new ApiError(parseProblem(res.status, body));
  }
  const parser = new SseParser();
  options.onOpen();
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      options.onActivity();
      for (const message of parser.push(decoder.decode(value, { stream: true }))) options.onMessage(message);
    }
  } finally {
    reader.releaseLock();
  }
}
