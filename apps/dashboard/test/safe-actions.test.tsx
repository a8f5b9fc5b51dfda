import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ERROR_CATALOGUE, type JobDetailWire } from '@jobtrail/domain';
import { attemptsCellText, attemptsText, retryOutlook, troubleshootingFor } from '../src/jobs/retry-policy.js';
import { installFakeApi } from './support/fake-api.js';
import { detail, job, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const JOB_ID = uuid(100);

function failedWith(code: string, retryable: boolean, attempt: number): JobDetailWire {
  return detail({
    status: 'failed',
    attempt,
    error: { code, title: code, detail: 'this time', retryable, troubleshooting: [] },
    result: null,
  });
}

function serve(target: JobDetailWire) {
  const retry = job({ job_id: uuid(101), status: 'pending', retry_of: JOB_ID, started_at: null, finished_at: null });
  return installFakeApi([
    ['GET', '/api/me', () => ({ body: me('operator') })],
    ['GET', `/api/jobs/${JOB_ID}`, () => ({ body: target })],
    ['GET', `/api/jobs/${JOB_ID}/logs`, () => ({ body: [] })],
    ['GET', '/api/jobs', () => ({ body: [] })],
    ['POST', `/api/jobs/${JOB_ID}/retry`, () => ({ status: 202, body: retry })],
  ]);
}

describe('safe actions on a failed job', () => {
  it.each([
    ['invalid-credentials', 'Update the connection with the corrected credentials'],
    ['user-action-required', 'Ask the user to log in to the bank website'],
  ])('%s: leads with what to do, says "not retried", and Retry is secondary and confirmed', async (code, fix) => {
    const fake = serve(failedWith(code, false, 1));
    const user = userEvent.setup();
    renderApp(`/jobs/${JOB_ID}`);
    const error = await screen.findByRole('region', { name: 'What went wrong' });
    const steps = within(error).getByRole('list', { name: 'Troubleshooting steps' });
    expect(steps).toHaveTextContent(fix);
    expect(error).toHaveTextContent('Not retried');
    expect(screen.getByTestId('job-attempts')).toHaveTextContent('Not retried');
    expect(screen.getByTestId('job-attempts')).not.toHaveTextContent('1 of 3');
    expect(document.body).not.toHaveTextContent('Jobtrail retries automatically');

    // The fix comes before the button in reading order, and Retry is not the primary button.
    const retry = screen.getByRole('button', { name: 'Retry' });
    expect(steps.compareDocumentPosition(retry) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(retry).not.toHaveClass('button-primary');

    await user.click(retry);
    const dialog = screen.getByRole('dialog', { name: 'Retry without fixing the cause?' });
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(fake.requests('POST', /retry$/)).toHaveLength(0);

    await user.click(screen.getByRole('button', { name: 'Retry' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Retry anyway' }));
    await waitFor(() => expect(fake.requests('POST', /retry$/)).toHaveLength(1));
  });

  it('says "all 3 attempts failed" when retries are exhausted, and never promises an automatic retry', async () => {
    serve(failedWith('institution-unavailable', true, 3));
    renderApp(`/jobs/${JOB_ID}`);
    const error = await screen.findByRole('region', { name: 'What went wrong' });
    expect(error).toHaveTextContent('All 3 attempts failed');
    expect(screen.getByTestId('job-attempts')).toHaveTextContent('All 3 attempts failed');
    expect(document.body).not.toHaveTextContent(/retries automatically/i);
    // A retry here needs no warning: the cause was on the bank's side.
    expect(screen.getByRole('button', { name: 'Retry' })).toHaveClass('button-primary');
  });
});

describe('retry policy', () => {
  it('derives the outlook from the job, not from hopes', () => {
    const base = { attempt: 1, max_attempts: 3 };
    const err = (retryable: boolean) => ({ code: 'x', title: 'x', detail: '', retryable, troubleshooting: [] });
    expect(retryOutlook({ ...base, status: 'pending', error: err(true) })).toBe('will-retry');
    expect(retryOutlook({ ...base, status: 'failed', error: err(false) })).toBe('not-retried');
    expect(retryOutlook({ ...base, attempt: 3, status: 'failed', error: err(true) })).toBe('exhausted');
    expect(retryOutlook({ ...base, status: 'success', error: null })).toBe('none');
    expect(attemptsText({ ...base, status: 'failed', error: err(false) })).toBe('Not retried');
    expect(attemptsText({ ...base, attempt: 3, status: 'failed', error: err(true) })).toBe('All 3 attempts failed');
    expect(attemptsText({ ...base, status: 'success', error: null })).toBe('1 of 3');
    // The history's narrow Attempt column agrees: a count, except "Not retried".
    expect(attemptsCellText({ ...base, status: 'failed', error: err(false) })).toBe('Not retried');
    expect(attemptsCellText({ ...base, attempt: 2, status: 'failed', error: err(false) })).toBe('2/3, not retried');
    expect(attemptsCellText({ ...base, attempt: 3, status: 'failed', error: err(true) })).toBe('3/3');
    expect(attemptsCellText({ ...base, status: 'pending', error: err(true) })).toBe('1/3');
    expect(attemptsCellText({ ...base, status: 'success', error: null })).toBe('1/3');
    const exhausted = { ...base, attempt: 3, status: 'failed' as const, error: { ...err(true), code: 'maintenance' } };
    expect(troubleshootingFor(exhausted).length).toBeLessThan(ERROR_CATALOGUE.maintenance.troubleshooting.length);
    expect(troubleshootingFor(exhausted).join(' ')).not.toMatch(/retries automatically/i);
  });
});
