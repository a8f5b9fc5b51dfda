import { parseProblem } from '@jobtrail/domain';
import { ApiError } from '../api/client.js';
import { createParser } from 'eventsource-parser';

/** One dispatched Server-Sent Event, as the live provider consumes it. */
export interface SseMessage {
  readonly event: string;
  readonly data: string;
  readonly id: string | null;
}

export interface StreamOptions {
  readonly url: string;
  readonly key: string;
  readonly lastEventId: string | null;
  readonly signal: AbortSignal;
  /** The server accepted the stream: we are live. */
  readonly onOpen: () => void;
  readonly onMessage: (message: SseMessage) => void;
  /**
   * The id of every block that carries one, before its message if any: also the id-only block a
   * stream starts with (its position), which dispatches no message. What to resume from.
   */
  readonly onId: (id: string) => void;
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
  // The standard's parsing rules (comments as heartbeats, CRLF split across chunks, multi-line
  // data, no dispatch without data) come from eventsource-parser rather than a hand-made parser.
  const parser = createParser({
    onId: options.onId,
    onEvent: (e) => options.onMessage({ event: e.event ?? 'message', data: e.data, id: e.id ?? null }),
  });
  options.onOpen();
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      options.onActivity();
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    reader.releaseLock();
  }
}
