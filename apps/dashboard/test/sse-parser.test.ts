import { describe, expect, it } from '@jest/globals';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { reconnectDelayMs } from '../src/live/backoff.js';

/**
 * The dashboard reads `/api/events` with eventsource-parser; these pin the behaviour the live
 * provider relies on (same cases the hand-made parser it replaced was held to).
 */
function parser() {
  const state = { lastEventId: null as string | null, retryMs: null as number | null };
  let out: { event: string; data: string; id: string | null }[] = [];
  const p = createParser({
    onEvent: (e: EventSourceMessage) => out.push({ event: e.event ?? 'message', data: e.data, id: e.id ?? null }),
    onId: (id) => (state.lastEventId = id),
    onRetry: (ms) => (state.retryMs = ms),
  });
  const push = (chunk: string) => {
    out = [];
    p.feed(chunk);
    return out;
  };
  return { push, state };
}

describe('SSE parsing (eventsource-parser)', () => {
  it('parses events with ids, ignores heartbeat comments, and keeps the last id to resume from', () => {
    const { push, state } = parser();
    const out = push(': ping\n\nid: 7\nevent: job.created\ndata: {"a":1}\n\n: ping\n\n');
    expect(out).toEqual([{ event: 'job.created', data: '{"a":1}', id: '7' }]);
    expect(state.lastEventId).toBe('7');
  });

  it('joins chunks split anywhere, including inside CRLF, and multi-line data', () => {
    const { push } = parser();
    const text = 'id: 1\r\nevent: job.updated\r\ndata: line one\r\ndata: line two\r\n\r\n';
    const out = [...text].flatMap((ch) => push(ch));
    expect(out).toEqual([{ event: 'job.updated', data: 'line one\nline two', id: '1' }]);
  });

  it('defaults the event type to "message", dispatches nothing without data, and reads retry', () => {
    const { push, state } = parser();
    expect(push('retry: 2500\nid: 3\n\n')).toEqual([]);
    expect(state.retryMs).toBe(2500);
    expect(state.lastEventId).toBe('3');
    expect(push('data:x\n\n')).toEqual([{ event: 'message', data: 'x', id: null }]);
    expect(state.lastEventId).toBe('3');
  });
});

describe('reconnectDelayMs', () => {
  it('grows exponentially from about a second, with jitter, capped at 30 s', () => {
    expect(reconnectDelayMs(1, () => 0)).toBe(500);
    expect(reconnectDelayMs(1, () => 1)).toBe(1_000);
    expect(reconnectDelayMs(4, () => 1)).toBe(8_000);
    expect(reconnectDelayMs(20, () => 1)).toBe(30_000);
    expect(reconnectDelayMs(20, () => 0)).toBe(15_000);
  });
});
