import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ERROR_CATALOGUE, type ConnectionWire, type JobSummaryWire } from '@jobtrail/domain';
import { createConnection, textOf, until } from './support/helpers.js';
import { REPO_ROOT, startApi, type RunningApi } from './support/api-server.js';

const SCREENSHOTS = join(REPO_ROOT, 'docs/screenshots');
/** How long a status change may take to show: the worker runs sandbox jobs in well under this. */

let api: RunningApi;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  api = await startApi();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
    ],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-US', timezoneId: 'UTC' });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
}, 60_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await api?.stop();
});

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
}

/** Opens a path, signing in through the `/#key=` link when the tab has no session yet. */
async function open(path: string): Promise<void> {
  await page.goto(`${api.baseUrl}${path}`);
  const signedIn = await page.evaluate(() => sessionStorage.getItem('jobtrail.api-key') !== null);
  if (!signedIn) await page.goto(`${api.baseUrl}${path}#key=${api.adminKey}`);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

const historyRow = (jobId: string) => page.locator(`tr.history-row[data-job-id="${jobId}"]`);
const rowStatus = (jobId: string) => textOf(historyRow(jobId).locator('.col-status .status-badge'));
const jobStatus = () => textOf(page.getByTestId('job-status'))();

describe('Jobtrail dashboard in Chromium', () => {
  it('signs in with an API key, and straight from a /#key= link', async () => {
    await page.goto(api.baseUrl);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot('sign-in');

    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'A valid API key is required' }).waitFor();

    await page.getByLabel('API key').fill(api.adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    expect(await textOf(page.getByLabel('Signed in'))()).toContain('default · admin');

    const other = await context.browser()!.newContext();
    try {
      const fresh = await other.newPage();
      await fresh.goto(`${api.baseUrl}/overview#key=${api.adminKey}`);
      await fresh.getByRole('heading', { name: /Overview/ }).waitFor();
      expect(new URL(fresh.url()).hash).toBe('');
    } finally {
      await other.close();
    }
  });

  it('shows live updates as on', async () => {
    await open('/');
    await until('the Live indicator', textOf(page.getByTestId('live-status')), (t) => t === 'Live', 10_000);
  });

  it('creates a sandbox connection and watches its first job go pending → processing → success without reloading', async () => {
    await open('/');
    // Records every status the first history row shows, from the moment it appears, in this very document.
    await page.evaluate(() => {
      const w = window as unknown as { __seen: string[]; __sameDocument: boolean };
      w.__seen = [];
      w.__sameDocument = true;
      const read = () => {
        const text = document
          .querySelector('.history-table tr.history-row .col-status .status-badge')
          ?.textContent?.replace(/\s+/g, ' ')
          .trim();
        if (text && w.__seen.at(-1) !== text) w.__seen.push(text);
      };
      new MutationObserver(read).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const form = page.getByRole('form', { name: 'New sandbox connection' });
    await form.getByLabel('Login').fill('user-ok');
    await form.getByLabel('Password').fill('secret');
    await form.getByLabel('Your reference').fill('e2e-ok');
    await form.getByRole('button', { name: 'Create connection' }).click();

    await page.getByRole('heading', { name: 'Connection us•••ok' }).waitFor();
    const firstRow = page.locator('.history-table tr.history-row').first();
    await firstRow.waitFor();
    const jobId = (await firstRow.getAttribute('data-job-id'))!;
    await until('the first job to succeed', rowStatus(jobId), (t) => t === '✅ Success');

    const seen = await page.evaluate(() => (window as unknown as { __seen: string[] }).__seen);
    const order = ['🕒 Pending', '⏳ Processing', '✅ Success'];
    // Pending first (the job as created), Success last, and never backwards in between.
    expect(seen[0]).toBe('🕒 Pending');
    expect(seen.at(-1)).toBe('✅ Success');
    expect(seen.map((s) => order.indexOf(s))).toEqual([...seen.map((s) => order.indexOf(s))].sort());
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    await shot('connection-history');

    // user-ok may finish between two frames; user-slow (about 2 s per step) shows ⏳ Processing for sure.
    const slow = await createConnection(api, 'user-slow', 'e2e-slow');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Connections' }).click();
    await page.getByRole('link', { name: 'Connection us•••ow (e2e-slow)' }).click();
    await until('the slow job to be processing', rowStatus(slow.job.job_id), (t) => t === '⏳ Processing');
    await until('the slow job to succeed', rowStatus(slow.job.job_id), (t) => t === '✅ Success');
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
  });

  it('refreshes a user-bad-password connection: ❌ with the invalid-credentials troubleshooting steps; retry is refused until new credentials, whose refresh succeeds', async () => {
    const bad = await createConnection(api, 'user-bad-password', 'e2e-bad');
    await open('/');
    await page.getByRole('link', { name: 'Connection us•••rd (e2e-bad)' }).click();
    await until('the first job to fail', rowStatus(bad.job.job_id), (t) => t === '❌ Failed');

    const refresh = page.getByRole('button', { name: 'Refresh', exact: true });
    await until('Refresh to be enabled', () => refresh.isEnabled(), Boolean);
    await refresh.click();
    const started = page.getByRole('status').filter({ hasText: 'Refresh started' });
    await started.waitFor();
    const top = page.locator('.history-table tr.history-row').first();
    await until(
      'the new refresh on top',
      async () => top.getAttribute('data-job-id'),
      (id) => id !== null && id !== bad.job.job_id,
    );
    const refreshId = (await top.getAttribute('data-job-id'))!;
    await until('the refresh to fail', rowStatus(refreshId), (t) => t === '❌ Failed');

    await historyRow(refreshId).getByRole('link', { name: refreshId }).click();
    await until('the job page', jobStatus, (t) => t === '❌ Failed');
    const error = page.getByRole('region', { name: 'What went wrong' });
    await error.waitFor();
    expect(await textOf(error)()).toContain(ERROR_CATALOGUE['invalid-credentials'].title);
    expect(await textOf(error)()).toContain('invalid-credentials');
    const steps = await error
      .getByRole('list', { name: 'Troubleshooting steps' })
      .getByRole('listitem')
      .allTextContents();
    expect(steps).toEqual([...ERROR_CATALOGUE['invalid-credentials'].troubleshooting]);
    await shot('job-failed');

    await page.getByRole('button', { name: 'Retry' }).click();
    // invalid-credentials is not retryable: Retry asks first (issue 15); the API then refuses it
    // until the credentials change (issue 12): resending a rejected password may lock the account.
    await page.getByRole('dialog').getByRole('button', { name: 'Retry anyway' }).click();
    await page.getByRole('alert').filter({ hasText: 'credentials-update-required' }).waitFor();

    // The fix: new credentials from the failed job's page; the refresh that follows verifies them.
    await page.getByRole('link', { name: 'Update the credentials' }).click();
    await page.waitForURL(`**/connections/${bad.connection.connection_id}#update-credentials`);
    const form = page.getByRole('form', { name: 'Update credentials' });
    await form.getByLabel('Login').fill('user-ok');
    await form.getByLabel('New password').fill('the-right-one');
    await form.getByRole('button', { name: 'Save and verify' }).click();
    const verifying = page.getByText(/A refresh verifies the new credentials/).getByRole('link');
    await verifying.waitFor();
    await verifying.click();
    await until('the verifying refresh to succeed', jobStatus, (t) => t === '✅ Success');
    await shot('credentials-fixed');
  });

  it('filters the history by failed, keeping the filter in the URL', async () => {
    const list = await api.call<ConnectionWire[]>('GET', '/connections?limit=200');
    const bad = list.body.find((c) => c.user_ref === 'e2e-bad')!;
    await open(`/connections/${bad.connection_id}`);
    await page.locator('.history-table tr.history-row').first().waitFor();
    // A successful purge gives the history a row the filter must hide.
    await page.getByRole('button', { name: 'Purge', exact: true }).click();
    await page.getByRole('button', { name: 'Purge data' }).click();
    await page.getByRole('status').filter({ hasText: 'Purge started' }).waitFor();
    const purgeId = (await page.locator('.history-table tr.history-row').first().getAttribute('data-job-id'))!;
    await until('the purge to succeed', rowStatus(purgeId), (t) => t === '✅ Success');

    // The box is controlled by the URL, which the router updates in a transition: `check()` would
    // read the box before that commits. Click, then wait for the URL and the box to follow.
    await page.getByRole('checkbox', { name: 'Failed' }).click();
    await page.waitForURL(/[?&]status=failed/);
    await until(
      'the Failed box to be checked',
      () => page.getByRole('checkbox', { name: 'Failed' }).isChecked(),
      (c) => c,
    );
    await until(
      'the filtered count',
      textOf(page.getByTestId('history-count')),
      (t) => t === 'Showing 2 jobs matching the filters.',
    );
    const statuses = await page.locator('.history-table tr.history-row .col-status .status-badge').allTextContents();
    expect(statuses.map((s) => s.replace(/\s+/g, ' ').trim())).toEqual(['❌ Failed', '❌ Failed']);

    // The filter survives a reload: it lives in the URL.
    await page.reload();
    await until(
      'the filtered count after reload',
      textOf(page.getByTestId('history-count')),
      (t) => t === 'Showing 2 jobs matching the filters.',
    );
    expect(await page.getByRole('checkbox', { name: 'Failed' }).isChecked()).toBe(true);
  });

  it('finds a job by its full id and by a prefix from the search box', async () => {
    const bad = (await api.call<ConnectionWire[]>('GET', '/connections?limit=200')).body.find(
      (c) => c.user_ref === 'e2e-bad',
    )!;
    const jobs = (await api.call<JobSummaryWire[]>('GET', `/connections/${bad.connection_id}/jobs`)).body;
    const target = jobs.at(-1)!;
    await open('/');
    const search = page.getByRole('searchbox', { name: 'Find a connection or a job' });

    await search.fill(target.job_id);
    await search.press('Enter');
    await page.waitForURL(`**/jobs/${target.job_id}`);
    await page.getByTestId('job-status').waitFor();

    const other = jobs[0]!;
    await search.fill(other.job_id.slice(0, 30));
    await search.press('Enter');
    await page.waitForURL(`**/jobs/${other.job_id}`);
    await until(
      'the job page of the prefix match',
      textOf(page.locator('.job-id-full')),
      (t) => t === other.job_id,
      10_000,
    );
  });

  it('pages through 120 jobs with "Load more", in a virtualized table', async () => {
    const { connection, job: first } = await createConnection(api, 'user-ok', 'e2e-paging');
    let created = 1;
    for (let i = 0; created < 120 && i < 2_000; i += 1) {
      const res = await api.call<JobSummaryWire>('POST', `/connections/${connection.connection_id}/refresh`, {});
      if (res.status === 202) created += 1;
      // A pending job is cancelled at once, a processing one at its next step; 409 means it already ended.
      if (res.body.status === 'pending' || res.body.status === 'processing')
        await api.call('POST', `/jobs/${res.body.job_id}/cancel`, {});
      if (res.status === 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(created).toBe(120);

    await open(`/connections/${connection.connection_id}`);
    const count = textOf(page.getByTestId('history-count'));
    await until('the first page', count, (t) => t === 'Showing 50 jobs, more available.');
    await page.getByRole('button', { name: 'Load more' }).click();
    await until('the second page', count, (t) => t === 'Showing 100 jobs, more available.');
    await page.getByRole('button', { name: 'Load more' }).click();
    await until('the last page', count, (t) => t === 'Showing 120 jobs.');
    expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    expect(await page.getByRole('table', { name: /Job history/ }).getAttribute('aria-rowcount')).toBe('121');

    // Only a window of rows is in the DOM; scrolling to the end brings the oldest job in.
    expect(await page.locator('.history-table tr.history-row').count()).toBeLessThan(60);
    expect(await historyRow(first.job_id).count()).toBe(0);
    await page.locator('.history-scroll').evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
    await historyRow(first.job_id).waitFor();
  });

  it('shows the connections list and the overview', async () => {
    await open('/');
    await page.getByRole('link', { name: 'Connection us•••ok (e2e-ok)' }).waitFor();
    await shot('connections');

    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Overview · last 24 hours' }).waitFor();
    const cards = page.getByRole('list', { name: 'Jobs by status' });
    await cards.waitFor();
    expect(await textOf(cards)()).toMatch(/failure rate/);
    await page.getByRole('img', { name: 'Failure rate per hour over the last 24 hours' }).waitFor();
    await page.getByRole('heading', { name: 'Slowest jobs' }).waitFor();
    await shot('overview');
  });

  it('fits a phone-sized screen', async () => {
    const bad = (await api.call<ConnectionWire[]>('GET', '/connections?limit=200')).body.find(
      (c) => c.user_ref === 'e2e-bad',
    )!;
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await open(`/connections/${bad.connection_id}`);
      await page.locator('.history-table tr.history-row').first().waitFor();
      // The page itself never scrolls sideways; only the history table does, inside its own box.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await shot('connection-history-phone');
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it('raised no uncaught error in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
