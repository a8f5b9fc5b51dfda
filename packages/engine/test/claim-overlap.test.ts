import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobWorker, claimLimit, type ClaimedJob, type JobRunner } from '../src/index.js';
import {
  TEST_WORKER_CONFIG,
  databaseKinds,
  openTestDatabase,
  silentLog,
  type TestDatabase,
} from './support/test-database.js';

const kinds = await databaseKinds();
const CONCURRENCY = 8;

describe('claimLimit', () => {
  it('takes half the concurrency at most, and never more than the free slots', () => {
    expect(claimLimit(100, 100)).toBe(50);
    expect(claimLimit(100, 30)).toBe(30);
    expect(claimLimit(7, 7)).toBe(4);
    expect(claimLimit(1, 1)).toBe(1);
    expect(claimLimit(2, 1)).toBe(1);
  });
});

/**
 * A worker with every slot free and more due jobs than slots: one claim takes half the slots (so
 * the next half is claimed while the first completes), and a claim that filled its half looks
 * again at once instead of waiting for the poll.
 */
describe.each(kinds)('a worker claiming on %s', (kind) => {
  let t: TestDatabase;
  let dataDir: string;
  beforeAll(async () => {
    t = await openTestDatabase(kind);
    dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-claim-overlap-'));
    for (let i = 0; i < CONCURRENCY * 2; i++) {
      const { tenantId, connectionId } = await t.seedConnection();
      await t.createJob(tenantId, connectionId, 'refresh');
    }
  });
  afterAll(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('claims half its slots a transaction and fills them all without waiting for a poll', async () => {
    const limits: number[] = [];
    const lockDueJobs = t.store.lockDueJobs.bind(t.store);
    t.store.lockDueJobs = (tx, now, limit) => {
      limits.push(limit);
      return lockDueJobs(tx, now, limit);
    };
    const running: ClaimedJob[] = [];
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const runner = {
      run: async (c: ClaimedJob) => {
        running.push(c);
        await released;
      },
    } as unknown as JobRunner;
    // A poll and a lease of a minute (the lease sweeper wakes the loop too): only a claim that looks
    // again at once fills the second half in time.
    const worker = new JobWorker(
      t.db,
      t.store,
      runner,
      t.bus,
      { ...TEST_WORKER_CONFIG, concurrency: CONCURRENCY, pollMs: 60_000, leaseMs: 60_000 },
      dataDir,
      silentLog,
    );
    worker.start();
    try {
      const until = performance.now() + 2_000;
      while (running.length < CONCURRENCY && performance.now() < until) await sleep(20);
      expect(running.length).toBe(CONCURRENCY);
      expect(new Set(running.map((c) => c.job.id)).size).toBe(CONCURRENCY);
      expect(limits.length).toBeGreaterThanOrEqual(2);
      expect(Math.max(...limits)).toBe(CONCURRENCY / 2);
    } finally {
      release();
      await worker.stop();
    }
  });
});
