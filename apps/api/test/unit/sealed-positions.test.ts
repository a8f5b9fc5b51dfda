import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { SealedPositions } from '../../src/common/sealed-positions.js';

// Positions of the shared sequences as tenants see them (issue 10, item 8): opaque, bound to the
// tenant (and job), refused when foreign or edited.
describe('SealedPositions', () => {
  const secret = randomBytes(32);
  const positions = new SealedPositions(secret);
  const [a, b] = ['tenant-a', 'tenant-b'];

  it('opens what it sealed for the same tenant, in another instance with the same key (another process)', () => {
    const id = positions.eventId(a, 123_456_789);
    expect(id).toMatch(/^[A-Za-z0-9_-]{48}$/);
    expect(new SealedPositions(secret).openEventId(a, id)).toBe(123_456_789);
    const cursor = positions.logCursor(a, 'job-1', { eventId: 42, index: 3 }, 7);
    expect(positions.openLogCursor(a, 'job-1', cursor)).toEqual({ eventId: 42, index: 3, ordinal: 7 });
  });

  it('opens a log cursor made before lines were folded (event id and ordinal) as past its whole row', () => {
    const seal = (positions as unknown as { seal(context: string, values: number[]): string }).seal.bind(positions);
    const legacy = seal(`log\n${a}\njob-1`, [42, 7]);
    expect(positions.openLogCursor(a, 'job-1', legacy)).toEqual({
      eventId: 42,
      index: Number.MAX_SAFE_INTEGER,
      ordinal: 7,
    });
    expect(positions.openLogCursor(b, 'job-1', legacy)).toBeNull();
  });

  it('shows nothing of the position: consecutive positions give unrelated tokens', () => {
    const one = positions.eventId(a, 1000);
    const two = positions.eventId(a, 1001);
    expect(one).not.toMatch(/1000|1001/);
    let shared = 0;
    while (shared < one.length && one[shared] === two[shared]) shared++;
    expect(shared).toBeLessThan(4);
  });

  it("refuses another tenant's token, another job's cursor, an edited token, another key's, and junk", () => {
    const id = positions.eventId(b, 5);
    expect(positions.openEventId(a, id)).toBeNull();
    expect(
      positions.openLogCursor(a, 'job-2', positions.logCursor(a, 'job-1', { eventId: 1, index: 0 }, 1)),
    ).toBeNull();
    const edited = `${id.slice(0, 20)}${id[20] === 'A' ? 'B' : 'A'}${id.slice(21)}`;
    expect(positions.openEventId(b, edited)).toBeNull();
    expect(new SealedPositions(randomBytes(32)).openEventId(b, id)).toBeNull();
    for (const junk of ['', '5', 'abc', '-1', 'x'.repeat(48), 'é'.repeat(48)])
      expect(positions.openEventId(a, junk)).toBeNull();
    // A log cursor is not an event id.
    expect(positions.openEventId(a, positions.logCursor(a, 'job-1', { eventId: 1, index: 0 }, 1))).toBeNull();
  });

  it('accepts 0 as "from the start": it reveals nothing', () => {
    expect(positions.openEventId(a, '0')).toBe(0);
  });
});
