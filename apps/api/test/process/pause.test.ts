import { afterEach, describe, expect, it } from '@jest/globals';
import {
  apiClient,
  createTestDatabase,
  freePort,
  newAdminKey,
  overlappingProcessing,
  ProcessGroup,
  readTransitions,
  testEnv,
  type TestDatabase,
} from '../support/processes.js';
import { databaseKinds } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = (await databaseKinds()).filter((k) => k === 'postgres');
const LEASE_MS = 1_500;
const STEP_MS = 1_500;

/**
 * A worker paused (SIGSTOP: a long GC, a frozen VM) in the middle of a refresh, past its lease.
 * Another worker takes the job over and finishes it, then a purge empties the connection. When
 * the paused worker resumes, its attempt is over: nothing it writes may land.
 */
describe.each(kinds)('a worker paused past its lease (%s)', (kind) => {
  let db: TestDatabase | null = null;
  let group: ProcessGroup | null = null;

  afterEach(async () => {
    await group?.killAll();
    await db?.drop();
    group = null;
    db = null;
  });

  it('writes no bank data after it resumes, and the history shows worker-lost then the new attempt', async () => {
    db = await createTestDatabase(kind);
    const reader = db.reader;
    const adminKey = newAdminKey();
    const g = new ProcessGroup({
      ...testEnv(),
      ...db.env,
      JOBTRAIL_ADMIN_KEY: adminKey,
      JOBTRAIL_WORKER_CONCURRENCY: '2',
      JOBTRAIL_LEASE_MS: String(LEASE_MS),
      JOBTRAIL_POLL_MS: '100',
      JOBTRAIL_BACKOFF_BASE_MS: '50',
      JOBTRAIL_PROGRESS_FLUSH_MS: '50',
      JOBTRAIL_SANDBOX_SLOW_STEP_MS: String(STEP_MS),
    });
    group = g;
    const api = g.start('api', { JOBTRAIL_ROLE: 'api', PORT: String(await freePort()) });
    await api.waitHealthy();
    const client = apiClient(api.base, adminKey);
    const paused = g.start('worker-paused', { JOBTRAIL_ROLE: 'worker' });
    await paused.waitWorkerReady();

    const { connectionId, jobId } = await client.connect('user-slow');
    const stepOf = async () => {
      const [row] = await reader.query<{ steps: string; lease_owner: string | null }>(
        'SELECT steps, lease_owner FROM jobs WHERE id = $1',
        [jobId],
      );
      return row ? (JSON.parse(row.steps) as Array<{ name: string; status: string }>) : [];
    };
    // Pause it while the institution is being asked for accounts: what it got back is written after.
    await waitFor(
      'the refresh to reach retrieve-accounts',
      async () =>
        (await stepOf()).find((s) => s.name === 'retrieve-accounts')?.status === 'running' ? true : undefined,
      15_000,
      20,
    );
    paused.signal('SIGSTOP');
    try {
      const other = g.start('worker-other', { JOBTRAIL_ROLE: 'worker' });
      await other.waitWorkerReady();
      await waitFor(
        'the other worker to finish the refresh',
        async () => {
          const [row] = await reader.query<{ status: string; attempt: number }>(
            'SELECT status, attempt FROM jobs WHERE id = $1',
            [jobId],
          );
          return row?.status === 'success' ? row : undefined;
        },
        30_000,
        50,
      );
      const purge = await client.action(connectionId, 'purge');
      await waitFor(
        'the purge to succeed',
        async () => {
          const [row] = await reader.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [purge.jobId]);
          return row?.status === 'success' ? true : undefined;
        },
        15_000,
        50,
      );
      const bankRows = async () =>
        Number(
          (
            await reader.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM accounts WHERE connection_id = $1', [
              connectionId,
            ])
          )[0]?.n,
        ) +
        Number(
          (
            await reader.query<{ n: number | string }>(
              'SELECT COUNT(*) AS n FROM transactions WHERE connection_id = $1',
              [connectionId],
            )
          )[0]?.n,
        );
      expect(await bankRows()).toBe(0);
      paused.signal('SIGCONT');
      // The paused attempt's institution call returns and it tries to store what it fetched.
      await new Promise((resolve) => setTimeout(resolve, STEP_MS * 3));
      expect(await bankRows()).toBe(0);
    } finally {
      paused.signal('SIGCONT');
    }

    const transitions = await readTransitions(reader);
    const ofJob = transitions.filter((t) => t.job_id === jobId).map((t) => `${t.to_status}:${t.reason}:${t.attempt}`);
    expect(ofJob).toEqual([
      'processing:claimed:1',
      'pending:worker-lost:1',
      'processing:claimed:2',
      'success:completed:2',
    ]);
    expect(overlappingProcessing(transitions)).toEqual([]);
  });
});
