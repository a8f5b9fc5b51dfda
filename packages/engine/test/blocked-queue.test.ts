import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { transitionJobOrThrow, type Job } from '@jobtrail/domain';
import { JobWorker, type JobRunner } from '../src/index.js';
import {
  TEST_WORKER_CONFIG,
  databaseKinds,
  openTestDatabase,
  silentLog,
  type TestDatabase,
} from './support/test-database.js';

const kinds = await databaseKinds();
const CONNECTIONS = 200;
const WINDOW_MS = 3_000;

/**
 * 200 connections, each with a slow job processing (held by another worker) and a job queued
 * behind it: nothing is claimable, so an idle worker must sleep, not spin on claims it cannot win.
 */
describe.each(kinds)('a worker facing a queue of blocked jobs on %s', (kind) => {
  let t: TestDatabase;
  let dataDir: string;
  beforeAll(async () => {
    t = await openTestDatabase(kind);
    dataDir = mkdtempSync(join(tmpdir(), 'jobtrail-blocked-'));
    for (let i = 0; i < CONNECTIONS; i++) {
      const { tenantId, connectionId } = await t.seedConnection();
      const slow = await t.createJob(tenantId, connectionId, 'refresh');
      const claimed: Job = transitionJobOrThrow(
        slow,
        { type: 'claim', workerId: 'elsewhere', leaseMs: 600_000 },
        { now: new Date(), actor: 'elsewhere' },
      ).job;
      await t.store.commitNow([{ tenantId, before: slow, next: claimed, events: [] }]);
      await t.createJob(tenantId, connectionId, 'purge');
    }
  });
  afterAll(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs the claim statement at most a few times a second and stays near idle', async () => {
    let claims = 0;
    const lockDueJobs = t.store.lockDueJobs.bind(t.store);
    t.store.lockDueJobs = (...args) => {
      claims++;
      return lockDueJobs(...args);
    };
    const runner = {
      run: async () => {
        throw new Error('nothing is claimable');
      },
    } as unknown as JobRunner;
    const worker = new JobWorker(
      t.db,
      t.store,
      runner,
      t.bus,
      { ...TEST_WORKER_CONFIG, pollMs: 1_000 },
      dataDir,
      silentLog,
    );
    const cpu = process.cpuUsage();
    const started = performance.now();
    worker.start();
    await sleep(WINDOW_MS);
    await worker.stop();
    const used = process.cpuUsage(cpu);
    const wall = performance.now() - started;
    const cpuShare = (used.user + used.system) / 1_000 / wall;
    console.log(`${kind}: ${claims} claims in ${Math.round(wall)} ms, CPU ${(cpuShare * 100).toFixed(1)}% of a core`);
    // The poll fallback is once a second; a few wake-ups more are fine, hundreds are a spin.
    expect(claims).toBeLessThanOrEqual(Math.ceil(WINDOW_MS / 1_000) * 3);
    expect(cpuShare).toBeLessThan(0.2);
  });
});
