import { describe, expect, it } from '@jest/globals';
import { render } from '@testing-library/react';
import { JOB_STATUSES, type JobStatus } from '@jobtrail/domain';
import { StatusBadge } from '../src/components/status-badge.js';

// A Record over JobStatus: adding a status to the domain fails to compile here until it is mapped.
const expected: Record<JobStatus, string> = {
  success: '✅ Success',
  failed: '❌ Failed',
  processing: '⏳ Processing',
  pending: '🕒 Pending',
  cancelled: '⊘ Cancelled',
};

describe('StatusBadge', () => {
  it.each(JOB_STATUSES.map((status) => [status]))('shows icon, text and class for %s', (status) => {
    const { container } = render(<StatusBadge status={status} />);
    const badge = container.firstElementChild;
    expect(badge).toHaveTextContent(expected[status], { normalizeWhitespace: false });
    expect(badge).toHaveClass('status-badge', `status-${status}`);
    expect(badge?.querySelector('[aria-hidden="true"]')).toHaveTextContent(expected[status].split(' ')[0]!);
  });

  it('maps every status of the domain, each to its own icon and word (colour is never the only signal)', () => {
    const shown = JOB_STATUSES.map((status) => render(<StatusBadge status={status} />).container.textContent);
    expect(shown).toEqual(JOB_STATUSES.map((s) => expected[s]));
    expect(new Set(shown.map((t) => t?.split(' ')[0])).size).toBe(JOB_STATUSES.length);
    expect(new Set(shown.map((t) => t?.split(' ')[1])).size).toBe(JOB_STATUSES.length);
  });
});
