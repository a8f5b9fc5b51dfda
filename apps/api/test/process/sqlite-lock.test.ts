import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  apiClient,
  testEnv,
  createTestDatabase,
  freePort,
  newAdminKey,
  ProcessGroup,
  type TestDatabase,
} from '../support/processes.js';
import { waitFor } from '../support/wait.js';

describe('SQLite runs one worker process per data folder', () => {
  let db: TestDatabase;
  let group: ProcessGroup;
  const adminKey = newAdminKey();

  beforeEach(async () => {
    db = await createTestDatabase('sqlite');
    group = new ProcessGroup({
      ...testEnv(),
      ...db.env,
      JOBTRAIL_ADMIN_KEY: adminKey,
      JOBTRAIL_POLL_MS: '100',
    });
  });
  afterEach(async () => {
    await group.killAll();
    await db.drop();
  });

  it('a second worker (or all-in-one) process is refused with a clear message; an api process is accepted', async () => {
    const first = group.start('worker-1', { JOBTRAIL_ROLE: 'worker' });
    await first.waitWorkerReady();

    // Started together: two processes that would run a worker, and one api process.
    const refused = await Promise.all(
      ['worker', 'all'].map(async (role) =>
        group.start(`second-${role}`, { JOBTRAIL_ROLE: role, PORT: String(await freePort()) }),
      ),
    );
    const api = group.start('api', { JOBTRAIL_ROLE: 'api', PORT: String(await freePort()) });
    for (const second of refused) {
      const exit = await second.waitExit(20_000);
      expect(exit).not.toBeNull();
      expect(exit!.code).not.toBe(0);
      expect(exit!.code).not.toBeNull();
      expect(second.stderr).toMatch(/another jobtrail worker/i);
      expect(second.stderr).toMatch(/sqlite/i);
      expect(second.stderr).toContain(`pid ${first.pid}`);
      expect(second.stderr).toContain('JOBTRAIL_ROLE=api');
    }

    // role=api on the same folder starts, serves, and its jobs are run by the first worker.
    await api.waitHealthy();
    const client = apiClient(api.base, adminKey);
    const { jobId } = await client.connect('user-ok');
    const job = await waitFor('the job to be run by worker-1', async () => {
      const res = await client.call('GET', `/jobs/${jobId}`);
      return res.body.status === 'success' ? res.body : undefined;
    });
    expect(job.transitions[0].actor).toMatch(/^worker-[0-9a-f]{6}$/);
    // The API shows an opaque worker label (issue 10, item 9); the database names the process.
    const [claim] = await db.reader.query<{ actor: string }>(
      "SELECT actor FROM job_events WHERE job_id = ? AND kind = 'transition' ORDER BY id LIMIT 1",
      [jobId],
    );
    expect(claim!.actor).toContain(`:${first.pid}:`);
    expect(first.running).toBe(true);
    expect(api.running).toBe(true);
  }, 60_000);

  it('the lock is released on SIGTERM and taken over from a SIGKILLed worker', async () => {
    const first = group.start('worker-1', { JOBTRAIL_ROLE: 'worker' });
    await first.waitWorkerReady();
    first.signal('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });

    const second = group.start('worker-2', { JOBTRAIL_ROLE: 'worker' });
    await second.waitWorkerReady();
    expect(await second.kill()).toEqual({ code: null, signal: 'SIGKILL' });

    // The killed worker left its lock file behind; its pid is dead, so the next worker takes over.
    const third = group.start('worker-3', { JOBTRAIL_ROLE: 'worker' });
    await third.waitWorkerReady();
    expect(third.running).toBe(true);
  }, 60_000);
});
