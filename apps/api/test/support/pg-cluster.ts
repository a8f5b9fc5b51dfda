import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './processes.js';

const run = promisify(execFile);

/** The newest PostgreSQL server binaries installed (`/usr/lib/postgresql/<version>/bin`), or null. */
export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

/** How a restart went: when it was asked for and when the server accepted connections again. */
export interface RestartWindow {
  readonly mode: 'fast' | 'immediate';
  readonly startedAt: number;
  readonly endedAt: number;
}

/**
 * A PostgreSQL cluster of its own in a temporary folder, on a free port, that a test can restart
 * and stop. initdb refuses to run as root, so when the test runs as root every server command runs
 * as the `postgres` user (`runuser -u postgres --`) on a folder handed over to that user.
 */
export class TempPgCluster {
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  private constructor(
    private readonly bin: string,
    readonly port: number,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'jobtrail-pg-'));
    this.dataDir = join(this.dir, 'data');
    this.logFile = join(this.dir, 'server.log');
  }

  /** initdb + pg_ctl start; resolves once the server accepts connections. */
  static async start(): Promise<TempPgCluster> {
    const bin = postgresBinDir();
    if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql/*/bin');
    const cluster = new TempPgCluster(bin, await freePort());
    if (userInfo().uid === 0) {
      const pgUser = (await run('id', ['-u', 'postgres'])).stdout.trim();
      const pgGroup = (await run('id', ['-g', 'postgres'])).stdout.trim();
      chownSync(cluster.dir, Number(pgUser), Number(pgGroup));
    }
    await cluster.pg('initdb', [
      '-D',
      cluster.dataDir,
      '-U',
      'postgres',
      '-A',
      'trust',
      '--no-sync',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    await cluster.ctl(['start', '-w', '-t', '30', '-l', cluster.logFile, '-o', cluster.serverOptions()]);
    return cluster;
  }

  /** Server options: loopback only, socket in the temp folder, no fsync (a test cluster). */
  private serverOptions(): string {
    return `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  }

  /** Runs a server binary, as the postgres user when we are root. */
  private async pg(tool: string, args: readonly string[]): Promise<string> {
    const exe = join(this.bin, tool);
    const [cmd, argv] = userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, [...args]];
    try {
      const { stdout, stderr } = await run(cmd, argv, { timeout: 60_000 });
      return stdout + stderr;
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(
        `${tool} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}\n${this.serverLog()}`,
      );
    }
  }

  private ctl(args: readonly string[]): Promise<string> {
    return this.pg('pg_ctl', ['-D', this.dataDir, ...args]);
  }

  /** `postgres://postgres@127.0.0.1:<port>/<database>` */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async createDatabase(name: string): Promise<string> {
    const c = new pg.Client({ connectionString: this.url('postgres') });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE ${name}`);
    } finally {
      await c.end();
    }
    return this.url(name);
  }

  /**
   * `pg_ctl restart -m <mode>`: `fast` disconnects every client and shuts down cleanly, `immediate`
   * kills the server processes (crash recovery at the next start). Resolves once it is back.
   */
  async restart(mode: 'fast' | 'immediate'): Promise<RestartWindow> {
    const startedAt = Date.now();
    await this.ctl(['restart', '-m', mode, '-w', '-t', '60', '-l', this.logFile, '-o', this.serverOptions()]);
    return { mode, startedAt, endedAt: Date.now() };
  }

  /** Stops the server (`fast`: disconnects clients at once; `immediate`: no clean shutdown). */
  async stop(mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.ctl(['stop', '-m', mode, '-w', '-t', '30']);
  }

  /** Starts the stopped server again and waits until it accepts connections. */
  async resume(): Promise<void> {
    await this.ctl(['start', '-w', '-t', '30', '-l', this.logFile, '-o', this.serverOptions()]);
  }

  /** The tail of the server's log, for failure messages. */
  serverLog(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no server log)';
    }
  }

  /** Stops the server (immediately) and removes the folder. */
  async destroy(): Promise<void> {
    if (existsSync(join(this.dataDir, 'postmaster.pid')))
      await this.ctl(['stop', '-m', 'immediate', '-w', '-t', '30']).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
