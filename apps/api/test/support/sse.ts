import type { JobSummaryWire } from '@jobtrail/domain';
import { waitFor } from './wait.js';

/** One Server-Sent Event as received. */
export interface SseEvent {
  readonly id: string | null;
  readonly event: string;
  readonly data: string;
  /** `data` parsed as the job summary it carries. */
  readonly job: JobSummaryWire;
}

/** A streaming `GET /events` client (fetch + reader, so it can send headers, unlike EventSource). */
export interface SseClient {
  readonly status: number;
  readonly contentType: string | null;
  /** The response body when the stream was refused (problem+json), else ''. */
  readonly body: string;
  readonly events: SseEvent[];
  /**
   * The id of the last block received, events and id-only blocks alike (what EventSource sends as
   * `Last-Event-ID` when it reconnects); null before any.
   */
  readonly lastEventId: string | null;
  /** Whether the server closed the stream. */
  readonly ended: boolean;
  /** Waits until `pick` returns something for the events received so far. */
  waitFor<T>(what: string, pick: (events: readonly SseEvent[]) => T | undefined, timeoutMs?: number): Promise<T>;
  close(): void;
}

/** Opens an event stream; resolves once the response headers came (status 200 or not). */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  let lastEventId: string | null = null;
  let ended = false;
  if (res.status === 200 && res.body) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let sep: number;
          while ((sep = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, sep);
            buffer = buffer.slice(sep + 2);
            let id: string | null = null;
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue;
              const colon = line.indexOf(':');
              const field = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              if (field === 'id') id = value;
              else if (field === 'event') event = value;
              else if (field === 'data') data.push(value);
            }
            if (id !== null) lastEventId = id;
            if (data.length === 0) continue;
            const text = data.join('\n');
            events.push({ id, event, data: text, job: JSON.parse(text) as JobSummaryWire });
          }
        }
      } catch {
        // aborted by close()
      } finally {
        ended = true;
      }
    })();
  } else {
    ended = true;
  }
  const body = res.status === 200 ? '' : await res.text().catch(() => '');
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    get lastEventId() {
      return lastEventId;
    },
    get ended() {
      return ended;
    },
    waitFor: (what, pick, timeoutMs = 20_000) => waitFor(what, async () => pick(events), timeoutMs, 20),
    close: () => abort.abort(),
    body,
  };
}
