/**
 * Readable local logs: `node dist/main.js` started in a pseudo-terminal (util-linux `script`)
 * prints coloured text lines, one per request; without a terminal (CI, containers, pipes) the same
 * lines are JSON. Either way, start-up shows the banner and no line per Nest module or route.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { waitFor } from '../support/wait.js';
import { DIST_MAIN, JobtrailProcess, freePort, newAdminKey, testEnv } from '../support/processes.js';

/** util-linux `script` gives the process a pseudo-terminal (Debian's bsdutils, always installed). */
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
const isJson = (line: string) => {
  try {
    return typeof JSON.parse(line) === 'object';
  } catch {
    return false;
  }
};
/** Nest's start-up chatter, which must not reach the output at the default level. */
const NEST_START_UP = /RouterExplorer|RoutesResolver|InstanceLoader|Mapped \{|dependencies initialized/;

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `node dist/main.js` in a pseudo-terminal: its output as the terminal shows it. */
class TerminalProcess {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;
  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn('script', ['-qfec', `${quote(process.execPath)} ${quote(DIST_MAIN)}`, '/dev/null'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }
  get lines(): string[] {
    return this.output
      .replace(/\r/g, '')
      .split('\n')
      .filter((l) => l.trim() !== '');
  }
  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

describe('log lines of a started process', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function environment(extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
    const dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-logs-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    return {
      ...testEnv(),
      PORT: String(await freePort()),
      JOBTRAIL_DATA_DIR: dataDir,
      JOBTRAIL_ADMIN_KEY: newAdminKey(),
      JOBTRAIL_LOG_LEVEL: 'info',
      JOBTRAIL_ROLE: 'api',
      ...extra,
    };
  }

  it('in a terminal: coloured text lines, one per request, and no Nest start-up chatter', async () => {
    expect({ hasScript }).toEqual({ hasScript: true });
    const env = await environment();
    const p = new TerminalProcess(env);
    cleanups.push(() => p.stop());
    const base = `http://127.0.0.1:${env.PORT}/api`;
    await waitFor('the banner', async () => (/Jobtrail is running/.test(p.output) ? true : undefined), 30_000);
    expect((await fetch(`${base}/health?probe=1`)).status).toBe(200);
    expect((await fetch(`${base}/me`, { headers: { Authorization: `Bearer ${env.JOBTRAIL_ADMIN_KEY}` } })).status).toBe(
      200,
    );
    const requestLines = await waitFor('two request lines', async () => {
      const lines = p.lines.filter((l) => /\/api\/(health|me)\b/.test(l.replace(ANSI, '')));
      return lines.length >= 2 ? lines : undefined;
    });
    await p.stop();
    expect(p.output).toMatch(ANSI);
    const plain = p.lines.map((l) => l.replace(ANSI, ''));
    expect(plain.filter(isJson)).toEqual([]);
    expect(plain.filter((l) => NEST_START_UP.test(l))).toEqual([]);
    // Exactly one line per request, saying method, path without query, status and time.
    expect(requestLines).toHaveLength(2);
    expect(plain.filter((l) => l.includes('/api/health'))).toEqual([
      expect.stringMatching(/INFO.*GET \/api\/health 200 \d+ms$/),
    ]);
    expect(plain.join('\n')).not.toContain('probe=1');
    expect(plain.join('\n')).not.toContain(env.JOBTRAIL_ADMIN_KEY!);
  }, 60_000);

  it('in a terminal with JOBTRAIL_LOG_FORMAT=json: JSON lines', async () => {
    expect({ hasScript }).toEqual({ hasScript: true });
    const env = await environment({ JOBTRAIL_LOG_FORMAT: 'json' });
    const p = new TerminalProcess(env);
    cleanups.push(() => p.stop());
    await waitFor('the banner', async () => (/Jobtrail is running/.test(p.output) ? true : undefined), 30_000);
    await fetch(`http://127.0.0.1:${env.PORT}/api/health`);
    const line = await waitFor('the request line', async () => p.lines.find((l) => l.includes('/api/health')));
    expect(isJson(line)).toBe(true);
  }, 60_000);

  it('without a terminal: JSON lines, one per request with method, path, status and time', async () => {
    const env = await environment();
    const p = new JobtrailProcess('api', env);
    cleanups.push(async () => {
      await p.kill();
    });
    await p.waitHealthy(30_000);
    expect((await fetch(`${p.base}/health?probe=1`)).status).toBe(200);
    const lines = await waitFor('the request lines', async () => {
      const found = p.stdout.filter((l) => l.includes('/api/health'));
      return found.length >= 2 ? found : undefined;
    });
    await new Promise((r) => setTimeout(r, 200));
    const logLines = p.stdout.filter((l) => l.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    for (const l of logLines) expect(isJson(l)).toBe(true);
    expect(p.stdout.filter((l) => NEST_START_UP.test(l))).toEqual([]);
    // waitHealthy's polls and this one: each request is one line, none carries the query.
    const mine = p.stdout.filter((l) => l.includes('/api/health')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(mine.length).toBe(lines.length);
    const last = mine[mine.length - 1]!;
    expect(last).toMatchObject({
      level: 30,
      req: { method: 'GET', url: '/api/health' },
      res: { statusCode: 200 },
      responseTime: expect.any(Number),
      msg: expect.stringMatching(/^GET \/api\/health 200 \d+ms$/),
    });
    expect(p.stdout.join('\n')).not.toContain('probe=1');
    // The banner is still there for whoever reads the output.
    expect(p.stdout.join('\n')).toMatch(/Jobtrail is running \(sqlite, role api\)/);
  }, 60_000);
});
