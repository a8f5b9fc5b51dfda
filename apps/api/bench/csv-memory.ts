/**
 * The CSV export's memory: a fresh API process (`dist/main.js`, with `memory-probe` loaded) streams
 * a connection's whole history as CSV to a client in the bench process, once read as fast as it
 * comes and once paused mid-download. The figures are the server's memory at rest against its
 * peaks; the paused run shows whether a slow reader makes the server buffer the file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ProbeAnswer, ProbeRequest } from './memory-probe.js';

const API_MAIN = fileURLToPath(new URL('../../../dist/main.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./memory-probe.js', import.meta.url));

export interface CsvMemoryOptions {
  /** The measured process's environment (database, keys, log level): PORT and role are added. */
  readonly env: Record<string, string>;
  readonly key: string;
  readonly connectionId: string;
  /** Rows the export must have (the connection's jobs). */
  readonly expectedRows: number;
  /** How long the slow reader stops reading, mid-download. */
  readonly pauseMs: number;
}

interface Memory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export interface CsvDownload {
  readonly bytes: number;
  readonly rows: number;
  readonly ms: number;
  readonly peak: Memory;
}

export interface CsvMemoryResult {
  readonly rest: Memory;
  readonly fast: CsvDownload;
  /** A third download at full speed, the heap sampled after a full GC every 0.5 s: what is held. */
  readonly live: CsvDownload & { readonly livePeak: Memory };
  readonly slow: CsvDownload & {
    /** The server's peak while the client was not reading. */
    readonly pausedPeak: Memory;
    /** Bytes the client had read when it paused. */
    readonly pausedAt: number;
    /** What the server held (after a full GC) as the pause began, and as it ended. */
    readonly liveAtPause: Memory;
    readonly liveAfterPause: Memory;
    readonly pauseMs: number;
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function ask(child: ChildProcess, request: ProbeRequest): Promise<Memory> {
  return new Promise((resolve) => {
    const onMessage = (answer: ProbeAnswer) => {
      if (answer.request !== request) return;
      child.off('message', onMessage);
      resolve(answer.memory);
    };
    child.on('message', onMessage);
    child.send(request);
  });
}

const higher = (a: Memory, b: Memory): Memory => ({
  rss: Math.max(a.rss, b.rss),
  heapUsed: Math.max(a.heapUsed, b.heapUsed),
  external: Math.max(a.external, b.external),
  arrayBuffers: Math.max(a.arrayBuffers, b.arrayBuffers),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startApi(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--expose-gc', '--import', PROBE, API_MAIN], {
    env: { ...process.env, ...env, PORT: String(port), JOBTRAIL_ROLE: 'api' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the API process exited (${child.exitCode}):\n${out}`);
    const ok = await fetch(`${url}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, url, output: () => out };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`the API process did not answer /api/health within 30 s:\n${out}`);
}

/** Downloads the CSV, counting bytes and line ends; `pause` stops reading once, at a quarter. */
async function download(
  child: ChildProcess,
  url: string,
  key: string,
  expectedRows: number,
  pause: { during: () => Promise<void> } | null,
): Promise<CsvDownload & { pausedAt: number }> {
  await ask(child, 'reset-peak');
  const t0 = performance.now();
  const res = await fetch(url, { headers: { Authorization: `Bearer ${key}`, Accept: 'text/csv' } });
  if (res.status !== 200 || !res.headers.get('content-type')?.startsWith('text/csv'))
    throw new Error(`the CSV export answered ${res.status} ${res.headers.get('content-type')}`);
  const reader = res.body!.getReader();
  let bytes = 0;
  let lines = 0;
  let pausedAt = 0;
  // A quarter of the file, from a first estimate of a row's size (the header's line is shorter).
  let pauseAfter = Number.POSITIVE_INFINITY;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    for (let i = 0; i < value.length; i++) if (value[i] === 0x0a) lines++;
    if (pause && pauseAfter === Number.POSITIVE_INFINITY && lines > 1000)
      pauseAfter = (bytes / lines) * expectedRows * 0.25;
    if (pause && pausedAt === 0 && bytes >= pauseAfter) {
      pausedAt = bytes;
      await pause.during();
    }
  }
  const ms = performance.now() - t0;
  const rows = lines - 1;
  if (rows !== expectedRows) throw new Error(`the CSV had ${rows} rows, expected ${expectedRows}`);
  return { bytes, rows, ms, peak: await ask(child, 'peak'), pausedAt };
}

export async function measureCsvMemory(opts: CsvMemoryOptions): Promise<CsvMemoryResult> {
  const { child, url, output } = await startApi(opts.env);
  try {
    const path = `${url}/api/connections/${opts.connectionId}/jobs`;
    // One small request first, so what is measured at rest includes a warmed-up request path.
    const warm = await fetch(`${path}?limit=1`, { headers: { Authorization: `Bearer ${opts.key}` } });
    if (warm.status !== 200) throw new Error(`the history answered ${warm.status}`);
    await warm.arrayBuffer();
    const rest = await ask(child, 'rest');
    const fast = await download(child, path, opts.key, opts.expectedRows, null);
    await ask(child, 'rest');
    let paused: { peak: Memory; liveAtPause: Memory; liveAfterPause: Memory } | null = null;
    let peakBefore: Memory | null = null;
    const slow = await download(child, path, opts.key, opts.expectedRows, {
      during: async () => {
        // The download's peak so far, before the register restarts for the pause alone.
        peakBefore = await ask(child, 'peak');
        const liveAtPause = await ask(child, 'rest');
        await ask(child, 'reset-peak');
        await sleep(opts.pauseMs);
        const peak = await ask(child, 'peak');
        paused = { peak, liveAtPause, liveAfterPause: await ask(child, 'rest') };
      },
    });
    if (!paused) throw new Error('the slow reader never paused');
    const { peak: pausedPeak, liveAtPause, liveAfterPause } = paused;
    const slowPeak = higher(slow.peak, peakBefore!);
    await ask(child, 'rest');
    await ask(child, 'live-on');
    const liveRun = await download(child, path, opts.key, opts.expectedRows, null);
    const livePeak = await ask(child, 'live-off');
    return {
      rest,
      fast,
      slow: { ...slow, peak: slowPeak, pausedPeak, liveAtPause, liveAfterPause, pauseMs: opts.pauseMs },
      live: { ...liveRun, livePeak },
    };
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${output().slice(-2000)}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const mb = (n: number) => `${(n / 1_048_576).toFixed(1)} MB`;

/** The figures as lines of the bench's report. */
export function csvMemoryReport(kind: string, r: CsvMemoryResult): string[] {
  const line = (label: string, m: Memory) =>
    `    ${label.padEnd(34)} RSS ${mb(m.rss).padStart(9)} (+${mb(m.rss - r.rest.rss)})   heap ${mb(m.heapUsed).padStart(8)} (+${mb(m.heapUsed - r.rest.heapUsed)})   external+buffers ${mb(m.external)}`;
  const speed = (d: CsvDownload) =>
    `${d.rows.toLocaleString('en')} rows, ${mb(d.bytes)} in ${(d.ms / 1000).toFixed(1)} s (${(d.rows / (d.ms / 1000)).toFixed(0)} rows/s)`;
  return [
    `  ${kind}: CSV export of one connection's history, API process (dist/main.js, role api)`,
    line('at rest (after a full GC)', r.rest),
    line('peak, client reading at full speed', r.fast.peak),
    `      streamed ${speed(r.fast)}`,
    line('peak, slow client (whole download)', r.slow.peak),
    line(`peak while the client paused`, r.slow.pausedPeak),
    line(`held as the pause began (full GC)`, r.slow.liveAtPause),
    line(`held after ${(r.slow.pauseMs / 1000).toFixed(0)} s paused (full GC)`, r.slow.liveAfterPause),
    `      paused after ${mb(r.slow.pausedAt)} of ${mb(r.slow.bytes)}; streamed ${speed(r.slow)}`,
    line('held, peak (full GC every 0.5 s)', r.live.livePeak),
    `      full speed again, collecting every 0.5 s: streamed ${speed(r.live)}`,
  ];
}
