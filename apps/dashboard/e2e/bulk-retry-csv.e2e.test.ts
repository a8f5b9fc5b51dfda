import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { JobSummaryWire } from '@jobtrail/domain';
import { seriousA11yViolations } from './support/axe.js';
import { REPO_ROOT, startApi, type RunningApi } from './support/api-server.js';
import { createConnection, textOf, until } from './support/helpers.js';

/**
 * Issue 12, in Chromium against the real API: an operator retries the failed jobs of the Jobs page
 * in bulk (dry-run count, confirmation, notice), and downloads a connection's history as CSV.
 */
const SCREENSHOTS = join(REPO_ROOT, 'docs/screenshots');
const DESKTOP = { width: 1280, height: 860 };
/** The export's columns, in order: the contract a spreadsheet user relies on. */
const CSV_HEADER =
  'job_id,connection_id,action,status,date,started_at,finished_at,attempt,max_attempts,error_code,error_detail,retry_of';

let api: RunningApi;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

async function jobOf(jobId: string): Promise<JobSummaryWire> {
  return (await api.call<JobSummaryWire>('GET', `/jobs/${jobId}`)).body;
}

async function settled(jobId: string, status: JobSummaryWire['status']): Promise<void> {
  await until(
    `job ${jobId} to be ${status}`,
    async () => (await jobOf(jobId)).status,
    (s) => s === status,
  );
}

/** Opens a path signed in as the admin: a full load of the `#key=` link, then the path itself. */
async function open(p: Page, path: string): Promise<void> {
  await p.goto('about:blank');
  await p.goto(`${api.baseUrl}${path}#key=${api.adminKey}`);
  await p.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Every job of the tenant (a few here: one page). */
async function allJobs(): Promise<JobSummaryWire[]> {
  const res = await api.call<JobSummaryWire[]>('GET', '/jobs?limit=200');
  expect(res.status).toBe(200);
  return res.body;
}

let down: string[];
let badPassword: string;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // One attempt: user-down's retryable failure ends the job at once instead of after backoff.
  api = await startApi({ JOBTRAIL_MAX_ATTEMPTS: '1' });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  // axe is injected as an inline script, which the dashboard's CSP rightly refuses.
  context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', timezoneId: 'UTC', bypassCSP: true });
  context.on('page', (p) => p.on('pageerror', (err) => pageErrors.push(err.message)));
  page = await context.newPage();
  const created = await Promise.all([
    createConnection(api, 'user-down', 'outage-1'),
    createConnection(api, 'user-down', 'outage-2'),
    createConnection(api, 'user-down', 'outage-3'),
    createConnection(api, 'user-bad-password', 'typo-1'),
  ]);
  down = created.slice(0, 3).map((c) => c.job.job_id);
  badPassword = created[3]!.job.job_id;
  for (const id of [...down, badPassword]) await settled(id, 'failed');
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await api?.stop();
});

describe('Bulk retry and CSV export, in Chromium', () => {
  it('retries the failed jobs of the Jobs page after a dry-run count and a confirmation, and says what was skipped', async () => {
    await open(page, '/jobs?status=failed&action=refresh');
    await until('the four failed jobs', textOf(page.getByTestId('jobs-count')), (t) => t.startsWith('Showing 4 jobs'));
    await page.getByRole('button', { name: 'Retry matching jobs' }).click();

    // The dry run counted 3: the bad password's failure waits for new credentials.
    const dialog = page.getByRole('dialog', { name: 'Retry 3 jobs?' });
    await dialog.waitFor();
    expect(await dialog.getByRole('list', { name: 'Filters' }).getByRole('listitem').allTextContents()).toEqual([
      'Status: failed',
      'Action: refresh',
    ]);
    expect(await textOf(dialog)()).toContain(
      'The 3 failed jobs matching these filters will be retried, each as a new job.',
    );
    expect(await textOf(dialog)()).toContain(
      'Of the 4 jobs matching, not retried: 1 needs new credentials first (the bank rejected them).',
    );
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    // Nothing was retried by counting.
    expect((await allJobs()).filter((j) => j.retry_of !== null)).toHaveLength(0);

    const violations = await seriousA11yViolations(page);
    expect(violations).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, 'bulk-retry-dialog.png') });

    await dialog.getByRole('button', { name: 'Retry 3 matching jobs' }).click();
    await until('the notice', textOf(page.getByTestId('notices')), (t) => t.includes('Retried 3 jobs'));
    expect(await textOf(page.getByTestId('notices'))()).toContain(
      'Retried 3 jobs: each runs as a new job. Not retried: 1 needs new credentials first (the bank rejected them).',
    );

    // Each outage failure got exactly one retry; the bad password's got none.
    const retries = (await allJobs()).filter((j) => j.retry_of !== null);
    expect(retries.map((j) => j.retry_of).sort()).toEqual([...down].sort());
    // The new jobs are on the Jobs page, live.
    await open(page, '/jobs');
    for (const retry of retries) await page.locator(`[data-job-id="${retry.job_id}"]`).first().waitFor();

    // A second run over the original failures (created before any retry) skips them all.
    const firstRetry = Math.min(...retries.map((j) => Date.parse(j.date)));
    await open(page, `/jobs?status=failed&to=${encodeURIComponent(new Date(firstRetry - 1).toISOString())}`);
    await page.getByRole('button', { name: 'Retry matching jobs' }).click();
    await until('the answer of the second count', textOf(page.locator('.bulk-retry [role=status]')), (t) =>
      t.startsWith('None of the 4 jobs matching can be retried'),
    );
    expect(await textOf(page.locator('.bulk-retry [role=status]'))()).toBe(
      'None of the 4 jobs matching can be retried: 3 already have a newer job of the same action; 1 needs new credentials first (the bank rejected them).',
    );
    expect(pageErrors).toEqual([]);
  });

  it('downloads the whole history of a connection as CSV from its page', async () => {
    const { connection, job } = await createConnection(api, 'user-ok', 'csv-1');
    await settled(job.job_id, 'success');
    const ids = [job.job_id];
    for (let i = 0; i < 4; i++) {
      const res = await api.call<JobSummaryWire>('POST', `/connections/${connection.connection_id}/refresh`, {});
      expect(res.status).toBe(202);
      await settled(res.body.job_id, 'success');
      ids.push(res.body.job_id);
    }
    await open(page, `/connections/${connection.connection_id}`);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`connection-${connection.connection_id}-jobs.csv`);
    const lines = readFileSync((await download.path())!, 'utf8').split('\r\n');
    expect(lines.at(-1)).toBe('');
    expect(lines[0]).toBe(CSV_HEADER);
    const rows = lines.slice(1, -1).map((l) => l.split(','));
    expect(rows).toHaveLength(5);
    // Newest first, as the history.
    expect(rows.map((r) => r[0])).toEqual([...ids].reverse());
    expect(rows.every((r) => r[1] === connection.connection_id && r[2] === 'refresh' && r[3] === 'success')).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
