import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ProcessGroup, freePort, testEnv } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

describe('the jobtrail CLI (SQLite data folder)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-cli-'));
  const env = { ...testEnv(), JOBTRAIL_DATA_DIR: dataDir };
  const cli = (...args: string[]) =>
    run(process.execPath, [CLI, ...args], { env }).then(
      (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({
        code: e.code ?? 1,
        out: e.stdout ?? '',
        err: e.stderr ?? '',
      }),
    );
  const group = new ProcessGroup(env);
  afterAll(async () => {
    await group.killAll();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates a tenant and keys (shown once), lists them without secrets, and revokes them', async () => {
    const tenant = await cli('tenant:create', 'acme');
    expect(tenant.code).toBe(0);
    const adminKey = /key: (jt_\S+)/.exec(tenant.out)?.[1];
    expect(adminKey).toBeDefined();
    expect((await cli('tenant:create', 'acme')).code).toBe(1);

    const viewer = await cli('key:create', 'acme', 'dashboard', 'viewer');
    const viewerKey = /key: (jt_\S+)/.exec(viewer.out)?.[1];
    const viewerId = /key id (\S+)/.exec(viewer.out)?.[1];
    expect(viewerKey && viewerId).toBeTruthy();
    expect((await cli('key:create', 'acme', 'x', 'superuser')).code).toBe(2);

    const list = await cli('key:list', 'acme');
    expect(list.out).toMatch(/admin\s+jt_/);
    expect(list.out).toMatch(/viewer\s+jt_.*dashboard/);
    expect(list.out).not.toContain(viewerKey!);
    expect(list.out).not.toContain(adminKey!);

    // The keys work against a server on the same data folder, with their roles, until revoked.
    const port = await freePort();
    const api = group.start('api', { PORT: String(port), JOBTRAIL_ROLE: 'api' });
    const base = `http://127.0.0.1:${port}/api`;
    const me = (key: string) => fetch(`${base}/me`, { headers: { Authorization: `Bearer ${key}` } });
    await waitFor(
      'the api to answer',
      async () => ((await me(viewerKey!).catch(() => null))?.status === 200 ? true : undefined),
      30_000,
    );
    expect(await (await me(viewerKey!)).json()).toMatchObject({
      tenant_name: 'acme',
      role: 'viewer',
      key_name: 'dashboard',
    });
    expect((await me(adminKey!)).status).toBe(200);

    expect((await cli('key:revoke', viewerId!)).code).toBe(0);
    expect((await me(viewerKey!)).status).toBe(401);
    expect((await cli('key:revoke', viewerId!)).code).toBe(1);
    expect((await me(adminKey!)).status).toBe(200);
    expect(api.running).toBe(true);
  }, 90_000);

  it('explains its usage', async () => {
    const res = await cli();
    expect(res.code).toBe(2);
    expect(res.out + res.err).toContain('tenant:create');
  });
});
