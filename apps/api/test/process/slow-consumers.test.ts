import { afterAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import {
  apiClient,
  createTestDatabase,
  freePort,
  newAdminKey,
  ProcessGroup,
  testEnv,
  type TestDatabase,
} from '../support/processes.js';
import { openSse } from '../support/sse.js';
import { waitFor } from '../support/wait.js';

/** Resident memory of a process, in bytes (Linux). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

const MB = 1024 * 1024;
const CLIENTS = 50;
// About 400 bytes an event: 20,000 events are 8 MB per client, of which the kernel's socket buffers
// (loopback: up to 4 MB send + the receiver's window) absorb about half; 5,000 events (2 MB) would
// never reach the process's own buffers, bounded or not.
const EVENTS = 20_000;
const BUFFER_BOUND = 256 * 1024;

/** A stream client that reads the response head, then never reads again (its socket is paused). */
async function stuckClient(port: number, key: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      const head = chunk.toString('latin1');
      if (head.startsWith('HTTP/1.1 200')) resolve();
      else reject(new Error(`stream refused: ${head.slice(0, 200)}`));
    });
    socket.write(
      `GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nAccept: text/event-stream\r\n\r\n`,
    );
  });
  return { socket, closed };
}

/**
 * A client that stops reading must not make the server buffer without bound (issue 10, item 3):
 * the server runs in its own process so its memory can be measured from outside.
 */
describe('slow event-stream consumers (process level, SQLite)', () => {
  let db: TestDatabase;
  const group = new ProcessGroup(testEnv());
  afterAll(async () => {
    await group.killAll();
    await db?.drop();
  });

  it(`drops ${CLIENTS} clients that never read while ${EVENTS} events flow; server memory stays bounded`, async () => {
    db = await createTestDatabase('sqlite');
    const adminKey = newAdminKey();
    const port = await freePort();
    const api = group.start('api', {
      ...db.env,
      PORT: String(port),
      JOBTRAIL_ADMIN_KEY: adminKey,
      JOBTRAIL_SSE_STREAMS_PER_KEY: '1000',
      JOBTRAIL_SSE_MAX_BUFFER_BYTES: String(BUFFER_BOUND),
      JOBTRAIL_SANDBOX_SLOW_STEP_MS: '0',
      JOBTRAIL_WORKER_CONCURRENCY: '16',
    });
    await api.waitHealthy();
    const client = apiClient(api.base, adminKey);
    const auth = { Authorization: `Bearer ${adminKey}` };
    // Warm-up, so start-up allocations are not counted as growth.
    await Promise.all(Array.from({ length: 30 }, () => client.connect('user-ok')));
    const reader = await openSse(`${api.base}/events`, auth);
    await waitFor('the warm-up jobs to finish', async () => {
      const rows = await db.reader.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM jobs WHERE status NOT IN ('success', 'failed')",
      );
      return Number(rows[0]!.n) === 0 ? true : undefined;
    });
    const rssBefore = rssOf(api.pid);

    const stuck = await Promise.all(Array.from({ length: CLIENTS }, () => stuckClient(port, adminKey)));
    const startEvents = reader.events.length;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(api.pid))), 100);
    const started = Date.now();
    try {
      while (reader.events.length - startEvents < EVENTS) {
        await Promise.all(Array.from({ length: 20 }, () => client.connect('user-ok')));
        if (Date.now() - started > 180_000) throw new Error('events did not flow');
      }
      await waitFor('the queue to drain', async () => {
        const rows = await db.reader.query<{ n: number }>(
          "SELECT COUNT(*) AS n FROM jobs WHERE status NOT IN ('success', 'failed')",
        );
        return Number(rows[0]!.n) === 0 ? true : undefined;
      });
    } finally {
      clearInterval(sampler);
    }
    const flowMs = Date.now() - started;
    const events = reader.events.length - startEvents;
    const eventBytes = reader.events
      .slice(startEvents)
      .reduce((n, e) => n + e.data.length + (e.id ?? '').length + 30, 0);
    const rssAfter = rssOf(api.pid);

    // Dropped: once resumed, each stuck socket reads what the kernel held, then the server's close.
    for (const s of stuck) s.socket.resume();
    const closedIn = await Promise.all(
      stuck.map((s) =>
        Promise.race([s.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]),
      ),
    );
    const dropped = closedIn.filter(Boolean).length;
    const logged = api.stdout.filter((l) => l.includes('event stream dropped')).length;
    // The reading client kept its stream.
    expect(reader.ended).toBe(false);
    reader.close();
    process.stdout.write(
      `slow consumers: ${CLIENTS} stuck clients, ${events} events (${(eventBytes / MB).toFixed(1)} MB per client) in ${flowMs} ms; server RSS ${(rssBefore / MB).toFixed(1)} MB before, ` +
        `${(rssPeak / MB).toFixed(1)} MB peak, ${(rssAfter / MB).toFixed(1)} MB after; ${dropped} dropped (${logged} logged)\n`,
    );
    expect(dropped).toBe(CLIENTS);
    // Each stuck stream may hold up to the bound before it is dropped (50 × 256 KB = 12.5 MB), plus
    // what creating and running ~4,000 jobs costs (about +95 MB peak with no stuck client). Without
    // the bound every event stays queued per client: +480 MB for this run, and no client dropped.
    // Bounded well below that (the jobs alone cost ~95 MB; RSS also follows the collector's timing).
    expect(rssPeak - rssBefore).toBeLessThan(300 * MB);

    // A dropped client resumes where it stopped and gets the rest.
    const resumed = await openSse(`${api.base}/events`, { ...auth, 'Last-Event-ID': String(reader.events[0]!.id) });
    expect(resumed.status).toBe(200);
    await resumed.waitFor('the replay', (e) => (e.length > 0 ? true : undefined));
    resumed.close();
  }, 300_000);
});
