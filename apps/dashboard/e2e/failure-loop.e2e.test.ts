import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { JobSummaryWire } from '@jobtrail/domain';
import { createConnection, until } from './support/helpers.js';
import { startApi, type RunningApi } from './support/api-server.js';

/**
 * Issue 12, closing the failure loop, in a real Chromium against the real all-in-one process: a
 * one-time code answered on the job page. (Bulk retry and the CSV download: bulk-retry-csv.e2e.)
 */
let api: RunningApi;
let browser: Browser;
let page: Page;

async function open(path: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${api.baseUrl}${path}#key=${api.adminKey}`);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

const jobOf = async (jobId: string) =>
  (await api.call<JobSummaryWire & { attempt: number }>('GET', `/jobs/${jobId}`)).body;

beforeAll(async () => {
  api = await startApi();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await api?.stop();
});

describe('Closing the failure loop, in Chromium', () => {
  it('answers the bank’s one-time-code prompt on the job page: a wrong code is refused, the right one lets the refresh finish', async () => {
    const { job } = await createConnection(api, 'user-mfa', 'acct-mfa');
    await until(
      'the challenge',
      () => jobOf(job.job_id),
      (j) => j.challenge !== null,
    );
    await open(`/jobs/${job.job_id}`);
    const box = page.getByTestId('challenge');
    await box.getByText(/Enter the 6-digit code/).waitFor();
    await box.getByRole('textbox', { name: 'Code' }).fill('000000');
    await box.getByRole('button', { name: 'Send code' }).click();
    await box.getByText(/2 tries left/).waitFor();
    await box.getByRole('textbox', { name: 'Code' }).fill('123456');
    await box.getByRole('button', { name: 'Send code' }).click();
    await until(
      'success',
      () => jobOf(job.job_id),
      (j) => j.status === 'success',
    );
    await page.getByTestId('job-status').getByText('Success').waitFor();
    expect(await page.getByTestId('challenge').count()).toBe(0);
  });
});
