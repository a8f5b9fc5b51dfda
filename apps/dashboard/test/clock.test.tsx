import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { act, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { RelativeTime } from '../src/components/date-time.js';
import { JobList } from '../src/components/job-list.js';
import { JobErrorView } from '../src/jobs/job-error-view.js';
import { ClockProvider, useNow } from '../src/lib/clock-context.js';
import { jobDurationMs, relativeTime } from '../src/lib/format.js';
import { detail, job, uuid } from './support/fixtures.js';

const T0 = Date.parse('2024-12-10T04:36:00.000Z');

describe('relativeTime', () => {
  const now = T0;
  it('phrases the past as past, even when the server clock runs a little ahead', () => {
    expect(relativeTime('2024-12-10T04:35:55Z', now, 'past')).toBe('5 s ago');
    expect(relativeTime('2024-12-10T04:35:58Z', now, 'past')).toBe('just now');
    // Skew: a trigger time 6 s "in the future" is still something that happened.
    expect(relativeTime('2024-12-10T04:36:06Z', now, 'past')).toBe('just now');
    expect(relativeTime('2024-12-10T04:36:06Z', now, 'past')).not.toMatch(/^in /);
  });

  it('phrases the future as future: "in 6 s", never "just now", and "due now" once due', () => {
    expect(relativeTime('2024-12-10T04:36:06Z', now, 'future')).toBe('in 6 s');
    expect(relativeTime('2024-12-10T04:36:00.400Z', now, 'future')).toBe('in 1 s');
    expect(relativeTime('2024-12-10T04:36:02Z', now, 'auto')).toBe('in 2 s');
    expect(relativeTime('2024-12-10T04:38:00Z', now, 'future')).toBe('in 2 min');
    expect(relativeTime('2024-12-10T04:35:59Z', now, 'future')).toBe('due now');
    for (const offset of [1, 999, 2_000, 4_999])
      expect(relativeTime(new Date(now + offset).toISOString(), now, 'future')).not.toBe('just now');
  });
});

describe('job duration', () => {
  it('spans every attempt: from the first attempt start (detail) or the trigger (summary on a later attempt)', () => {
    const second = detail({
      status: 'success',
      attempt: 2,
      date: '2024-12-10T04:30:00.000Z',
      started_at: '2024-12-10T04:34:00.000Z',
      finished_at: '2024-12-10T04:34:02.000Z',
      transitions: [
        {
          from: 'pending',
          to: 'processing',
          at: '2024-12-10T04:30:01.000Z',
          reason: 'claimed',
          actor: 'w',
          attempt: 1,
        },
        {
          from: 'processing',
          to: 'pending',
          at: '2024-12-10T04:30:02.000Z',
          reason: 'requeued',
          actor: 'w',
          attempt: 1,
        },
        {
          from: 'pending',
          to: 'processing',
          at: '2024-12-10T04:34:00.000Z',
          reason: 'claimed',
          actor: 'w',
          attempt: 2,
        },
        {
          from: 'processing',
          to: 'success',
          at: '2024-12-10T04:34:02.000Z',
          reason: 'completed',
          actor: 'w',
          attempt: 2,
        },
      ],
    });
    expect(jobDurationMs(second, T0)).toBe(241_000);
    const { transitions: _t, ...summary } = second;
    expect(jobDurationMs(summary, T0)).toBe(242_000);
    expect(jobDurationMs(job({ attempt: 1 }), T0)).toBe(2_500);
  });
});

/** Renders what the pages render, under the one shared clock. */
function Probe({ iso, runAt }: { readonly iso: string; readonly runAt: string }) {
  const now = useNow();
  const running = job({
    job_id: uuid(1),
    status: 'processing',
    started_at: new Date(T0 - 30_000).toISOString(),
    finished_at: null,
  });
  return (
    <>
      <p data-testid="past">
        <RelativeTime iso={iso} now={now} />
      </p>
      <JobList jobs={[running]} caption="running" now={now} />
      <JobErrorView
        job={{
          status: 'pending',
          attempt: 1,
          max_attempts: 3,
          run_at: runAt,
          error: { code: 'institution-unavailable', title: 'x', detail: 'down', retryable: true, troubleshooting: [] },
        }}
      />
    </>
  );
}

describe('the shared clock', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('ticks every relative time and running duration on screen together', () => {
    render(
      <MemoryRouter>
        <ClockProvider>
          <Probe iso={new Date(T0 - 5_000).toISOString()} runAt={new Date(T0 + 6_000).toISOString()} />
        </ClockProvider>
      </MemoryRouter>,
    );
    const duration = () => screen.getByRole('cell', { name: /s$/ }).textContent;
    const due = () => screen.getByText(/Jobtrail retries automatically: attempt/).textContent;
    expect(screen.getByTestId('past')).toHaveTextContent('5 s ago');
    expect(due()).toContain('attempt 2 of 3, in 6 s');
    expect(duration()).toBe('30 s');
    // Absolute time (UTC) on hover.
    expect(screen.getByTestId('past').querySelector('time')?.getAttribute('title')).toMatch(
      /^UTC: 2024-12-10 04:35:55 UTC/,
    );

    act(() => jest.advanceTimersByTime(1_000));
    expect(screen.getByTestId('past')).toHaveTextContent('6 s ago');
    expect(due()).toContain('attempt 2 of 3, in 5 s');
    expect(duration()).toBe('31 s');

    act(() => jest.advanceTimersByTime(59_000));
    expect(screen.getByTestId('past')).toHaveTextContent('1 min ago');
    expect(due()).toContain('attempt 2 of 3, due now');
    expect(due()).not.toContain('just now');
    expect(duration()).toBe('1 min 30 s');
  });
});
