import { describe, expect, it } from '@jest/globals';
import { SseParser } from '../src/live/sse-parser.js';
import { reconnectDelayMs } from '../src/live/backoff.js';

describe('SseParser', () => {
  it('parses events with ids, ignores heartbeat comments, and keeps the last id to resume from', () => {
    const parser = new SseParser();
    const out = parser.push(': ping\n\nid: 7\nevent: job.created\ndata: {"a":1}\n\n: ping\n\n');
    expect(out).toEqual([{ event: 'job.created', data: '{"a":1}', id: '7' }]);
    expect(parser.lastEventId).toBe('7');
  });

  it('joins chunks split anywhere, including inside CRLF, and multi-line data', () => {
    const parser = new SseParser();
    const text = 'id: 1\r\nevent: job.updated\r\ndata: line one\r\ndata: line two\r\n\r\n';
    const out = [...text].flatMap((ch) => parser.push(ch));
    expect(out).toEqual([{ event: 'job.updated', data: 'line one\nline two', id: '1' }]);
  });

  it('defaults the event type to "message", dispatches nothing without data, and reads retry', () => {
    const parser = new SseParser();
    expect(parser.push('retry: 2500\nid: 3\n\n')).toEqual([]);
    expect(parser.retryMs).toBe(2500);
    expect(parser.lastEventId).toBe('3');
    expect(parser.push('data:x\n\n')).toEqual([{ event: 'message', data: 'x', id: null }]);
    expect(parser.lastEventId).toBe('3');
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
