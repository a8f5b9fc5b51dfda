import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type AddressInfo } from 'node:net';
import { apiClient, sleep } from '../support/processes.js';
import { openSse } from '../support/sse.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** What a raw connection saw: the bytes the server sent and when (after start) it closed. */
interface Outcome {
  readonly text: string;
  readonly closedAfterMs: number | null;
}

/**
 * Sends `head` (and then `trickle`, one byte every `everyMs`) on a raw connection; resolves when
 * the server closes it, or after `giveUpMs` with `closedAfterMs: null`.
 */
function trickle(port: number, head: string, trickleBytes: string, everyMs: number, giveUpMs: number) {
  return new Promise<Outcome>((resolve) => {
    const started = Date.now();
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const socket = connect(port, '127.0.0.1');
    const finish = (closed: boolean) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ text, closedAfterMs: closed ? Date.now() - started : null });
    };
    const giveUp = setTimeout(() => finish(false), giveUpMs);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      socket.write(head);
      let i = 0;
      timer = setInterval(() => {
        if (i < trickleBytes.length && !socket.destroyed) socket.write(trickleBytes[i++]!);
      }, everyMs);
    });
  });
}

/** Request, header and keep-alive timeouts sized for an API (issue 10, item 8). */
describe('HTTP server timeouts', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startTestApp('sqlite', {
      role: 'all',
      http: { requestTimeoutMs: 3_000, headersTimeoutMs: 2_000, keepAliveTimeoutMs: 1_000 },
    });
    port = (t.server.address() as AddressInfo).port;
  });
  afterAll(() => t.close());

  it('cuts off a request whose body arrives one byte every 2 s within the request timeout (408)', async () => {
    const body = JSON.stringify({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' });
    const head =
      `POST /api/connections HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.adminKey}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const outcome = await trickle(port, head, body, 2_000, 15_000);
    // 3 s timeout, checked every second.
    expect(outcome.closedAfterMs).not.toBeNull();
    expect(outcome.closedAfterMs!).toBeLessThan(5_500);
    expect(outcome.text).toMatch(/^HTTP\/1\.1 408/);
  });

  it('cuts off a request whose headers arrive one byte every 500 ms within the header timeout', async () => {
    const outcome = await trickle(
      port,
      'GET /api/health HTTP/1.1\r\n',
      'Host: 127.0.0.1\r\nX-Slow: yes\r\n\r\n',
      500,
      15_000,
    );
    expect(outcome.closedAfterMs).not.toBeNull();
    expect(outcome.closedAfterMs!).toBeLessThan(4_500);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const outcome = await trickle(port, 'GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', '', 1_000, 15_000);
    expect(outcome.text).toMatch(/^HTTP\/1\.1 200/);
    expect(outcome.closedAfterMs).not.toBeNull();
    expect(outcome.closedAfterMs!).toBeLessThan(3_000);
  });

  it('does not cut a long-lived event stream: it outlives the request timeout and still delivers', async () => {
    const base = `http://127.0.0.1:${port}/api`;
    const sse = await openSse(`${base}/events`, { Authorization: `Bearer ${t.adminKey}` });
    expect(sse.status).toBe(200);
    await sleep(5_000);
    expect(sse.ended).toBe(false);
    const { jobId } = await apiClient(base, t.adminKey).connect('user-ok');
    await sse.waitFor('an event of the new job', (events) => events.find((e) => e.job.job_id === jobId));
    expect(sse.ended).toBe(false);
    sse.close();
  });
});
