import { createJob, type Job } from '../src/index.js';

export const T0 = new Date('2024-12-10T04:33:00.000Z');
export const CONN = '3f0b6f0e-4d51-4a4e-8f7b-0c0d7c1c2a11';
export const JOB_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

/** A fresh pending refresh job. */
export function pendingJob(overrides: Partial<Job> = {}): Job {
  return { ...createJob({ id: JOB_ID, connectionId: CONN, action: 'refresh', now: T0 }), ...overrides };
}
