import { describe, expect, it } from '@jest/globals';
import { render, screen, within } from '@testing-library/react';
import { JOB_STATUSES, type JobStatus } from '@jobtrail/domain';
import { App } from '../src/app.js';
import { StatusBadge } from '../src/components/status-badge.js';

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
});

describe('App', () => {
  it('renders the header and a legend with one badge per status, in domain order', () => {
    render(<App />);
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Jobtrail');
    const items = within(screen.getByRole('list', { name: 'Status legend' })).getAllByRole('listitem');
    expect(items.map((item) => item.textContent)).toEqual(JOB_STATUSES.map((status) => expected[status]));
  });
});
