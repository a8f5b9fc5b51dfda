import { describe, expect, it } from '@jest/globals';
import { attemptHoldsLease, createJob, fenceHolds, mergeConcurrentChanges, type Job } from '../src/index.js';

const t = (ms: number) => new Date(Date.UTC(2024, 11, 10, 4, 33) + ms);
const processing = (patch: Partial<Job> = {}): Job => ({
  ...createJob({ id: 'j', connectionId: 'c', action: 'refresh', now: t(0) }),
  status: 'processing',
  attempt: 1,
  leaseOwner: 'w',
  leaseExpiresAt: t(30_000),
  ...patch,
});

describe('concurrent writes of one job', () => {
  it('a write holds its fence only while the stored status and attempt are those it read', () => {
    expect(fenceHolds({ status: 'processing', attempt: 1 }, { status: 'processing', attempt: 1 })).toBe(true);
    expect(fenceHolds({ status: 'processing', attempt: 2 }, { status: 'processing', attempt: 1 })).toBe(false);
    expect(fenceHolds({ status: 'pending', attempt: 1 }, { status: 'processing', attempt: 1 })).toBe(false);
  });

  it('a lease is never shortened by a write computed before a renewal', () => {
    const stored = { status: 'processing' as const, attempt: 1, leaseExpiresAt: t(60_000), cancelRequestedAt: null };
    const merged = mergeConcurrentChanges(stored, processing({ leaseExpiresAt: t(30_000) }));
    expect(merged.leaseExpiresAt).toEqual(t(60_000));
  });

  it('a later lease wins, and releasing the lease (null) is always kept', () => {
    const stored = { status: 'processing' as const, attempt: 1, leaseExpiresAt: t(60_000), cancelRequestedAt: null };
    expect(mergeConcurrentChanges(stored, processing({ leaseExpiresAt: t(90_000) })).leaseExpiresAt).toEqual(t(90_000));
    expect(mergeConcurrentChanges(stored, processing({ leaseExpiresAt: null })).leaseExpiresAt).toBeNull();
  });

  it('a stored cancel request is never cleared by a write that did not see it', () => {
    const stored = { status: 'processing' as const, attempt: 1, leaseExpiresAt: t(30_000), cancelRequestedAt: t(5) };
    expect(mergeConcurrentChanges(stored, processing()).cancelRequestedAt).toEqual(t(5));
  });

  it('returns the very job given when nothing was changed by others', () => {
    const next = processing();
    const stored = { status: 'processing' as const, attempt: 1, leaseExpiresAt: t(1_000), cancelRequestedAt: null };
    expect(mergeConcurrentChanges(stored, next)).toBe(next);
  });
});

describe('an attempt fence', () => {
  const fence = { jobId: 'j', attempt: 2, workerId: 'w' };
  const lease = { status: 'processing' as const, attempt: 2, leaseOwner: 'w', leaseExpiresAt: t(10_000) };
  it('holds while the job is processing in this attempt, leased to this worker, before the lease ends', () => {
    expect(attemptHoldsLease(lease, fence, t(9_999))).toBe(true);
  });
  it('is lost when the lease ran out, even before the sweeper moved the job', () => {
    expect(attemptHoldsLease(lease, fence, t(10_000))).toBe(false);
  });
  it('is lost when another attempt, another worker or another status owns the job', () => {
    expect(attemptHoldsLease({ ...lease, attempt: 3 }, fence, t(0))).toBe(false);
    expect(attemptHoldsLease({ ...lease, leaseOwner: 'other' }, fence, t(0))).toBe(false);
    expect(attemptHoldsLease({ ...lease, status: 'pending' }, fence, t(0))).toBe(false);
    expect(attemptHoldsLease({ ...lease, leaseExpiresAt: null }, fence, t(0))).toBe(false);
  });
});
