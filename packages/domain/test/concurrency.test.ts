import { describe, expect, it } from '@jest/globals';
import { createJob, fenceHolds, mergeConcurrentChanges, type Job } from '../src/index.js';

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
