import { describe, expect, it } from '@jest/globals';
import { nextLinkOf } from '../src/api/link-header.js';
import { formatDuration, formatUtc, maskLogin, relativeTime } from '../src/lib/format.js';

describe('format', () => {
  it('masks logins, keeping just enough to recognise them', () => {
    expect(maskLogin('user-ok')).toBe('us•••ok');
    expect(maskLogin('user-bad-password')).toBe('us•••rd');
    expect(maskLogin('abc')).toBe('a•••');
    expect(maskLogin('ab')).toBe('•••');
  });

  it('says how long ago, in short units', () => {
    const now = Date.parse('2024-12-10T04:36:00Z');
    expect(relativeTime('2024-12-10T04:35:58Z', now)).toBe('just now');
    expect(relativeTime('2024-12-10T04:35:15Z', now)).toBe('45 s ago');
    expect(relativeTime('2024-12-10T04:33:00Z', now)).toBe('3 min ago');
    expect(relativeTime('2024-12-10T01:33:00Z', now)).toBe('3 h ago');
    expect(relativeTime('2024-12-07T04:36:00Z', now)).toBe('3 d ago');
    expect(relativeTime('2024-12-10T04:38:00Z', now)).toBe('in 2 min');
  });

  it('formats durations and UTC times', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(2_500)).toBe('2.5 s');
    expect(formatDuration(245_000)).toBe('4 min 5 s');
    expect(formatDuration(7_380_000)).toBe('2 h 3 min');
    expect(formatUtc('2024-12-10T04:33:00.123Z')).toBe('2024-12-10 04:33:00 UTC');
  });
});

describe('nextLinkOf', () => {
  it('finds rel="next" among several links and resolves it against the request', () => {
    const header = '</api/x?cursor=a>; rel="prev", </api/connections/1/jobs?limit=50&cursor=abc>; rel="next"';
    expect(nextLinkOf(header, '/api/connections/1/jobs?limit=50')).toBe('/api/connections/1/jobs?limit=50&cursor=abc');
    expect(nextLinkOf('<jobs?cursor=b>; rel=next', '/api/connections/1/jobs')).toBe('/api/connections/1/jobs?cursor=b');
    expect(nextLinkOf(null, '/api/x')).toBeNull();
    expect(nextLinkOf('</api/x?cursor=a>; rel="prev"', '/api/x')).toBeNull();
  });
});
