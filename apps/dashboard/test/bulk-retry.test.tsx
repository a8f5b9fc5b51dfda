import { describe, expect, it } from '@jest/globals';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { installFakeApi } from './support/fake-api.js';
import { jobs, me, uuid } from './support/fixtures.js';
import { renderApp } from './support/render-app.js';

const WOULD = [uuid(501), uuid(502), uuid(503)];

function serve(role: 'operator' | 'viewer') {
  return installFakeApi([
    ['GET', '/api/me', () => ({ body: me(role) })],
    ['GET', '/api/jobs', () => ({ body: jobs(5, 0, { status: 'failed' }) })],
    [
      'POST',
      '/api/jobs/retry',
      (req) => {
        const dry = (req.body as { dry_run: boolean }).dry_run;
        return {
          body: {
            matched: 5,
            retried: dry ? 0 : 3,
            skipped: { superseded: 2 },
            job_ids: WOULD,
            dry_run: dry,
          },
        };
      },
    ],
  ]);
}

describe('Retry N matching jobs on the Jobs page', () => {
  it('counts with a dry run, names N in the confirmation, then reports retried and skipped by reason', async () => {
    const fake = serve('operator');
    const user = userEvent.setup();
    renderApp('/jobs?status=failed&error_code=institution-unavailable');
    const button = await screen.findByRole('button', { name: 'Retry 3 matching jobs' });
    await user.click(button);
    const confirm = screen.getByRole('group', { name: /This starts 3 new jobs/ });
    expect(confirm).toHaveTextContent('2 of the 5 matching are skipped: superseded 2');
    await user.click(within(confirm).getByRole('button', { name: 'Retry 3 jobs' }));
    expect(await screen.findByTestId('bulk-retry-result')).toHaveTextContent(
      'Retried 3 jobs of 5 matching; skipped: superseded 2.',
    );
    const bodies = fake.requests('POST', /\/jobs\/retry$/).map((r) => r.body);
    expect(bodies[0]).toEqual({ status: 'failed', error_code: 'institution-unavailable', dry_run: true });
    expect(bodies).toContainEqual({ status: 'failed', error_code: 'institution-unavailable', dry_run: false });
  });

  it('is not offered to a viewer (no dry run either)', async () => {
    const fake = serve('viewer');
    renderApp('/jobs?status=failed');
    await waitFor(() => expect(fake.requests('GET', /\/jobs/).length).toBeGreaterThan(0));
    await screen.findByRole('heading', { name: 'Jobs' });
    expect(screen.queryByRole('button', { name: /Retry \d+ matching/ })).toBeNull();
    expect(fake.requests('POST', /\/jobs\/retry$/)).toHaveLength(0);
  });
});
