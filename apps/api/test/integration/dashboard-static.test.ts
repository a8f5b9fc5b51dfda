import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { send } from '../hardening/support/http.js';
import { expectProblem } from '../support/api-helpers.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The all-in-one process serves a built dashboard: its files with a cache lifetime, every other GET
 * outside `/api` with its `index.html` (deep links), never a file outside its folder or a dotfile,
 * and never the dashboard for an API path.
 */
describe('the dashboard served by the API process', () => {
  let t: TestApp;
  let root: string;
  const INDEX = '<!doctype html><title>Jobtrail</title><script type="module" src="/assets/app.js"></script>';

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'jobtrail-dashboard-'));
    const dist = join(root, 'dist');
    mkdirSync(join(dist, 'assets'), { recursive: true });
    writeFileSync(join(dist, 'index.html'), INDEX);
    writeFileSync(join(dist, 'assets', 'app.js'), 'console.log("dashboard")');
    writeFileSync(join(dist, '.env'), 'SECRET=dotfile-secret');
    writeFileSync(join(root, 'outside.txt'), 'outside-secret');
    t = await startTestApp('sqlite', { dashboardDir: dist });
  });
  afterAll(async () => {
    await t.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** A GET with the path sent as written (supertest and fetch would normalise `..`). */
  const rawGet = (path: string) => send(t.server, { method: 'GET', path });

  it('answers / and deep links with index.html, not cached, under the Content-Security-Policy', async () => {
    for (const path of ['/', '/jobs', '/connections/0193a1f8-0000-7000-8000-000000000000?tab=jobs', '/a/b/c/']) {
      const res = await request(t.server).get(path);
      expect({ path, status: res.status, text: res.text }).toEqual({ path, status: 200, text: INDEX });
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('serves the built files with an hour of caching, HEAD included', async () => {
    const res = await request(t.server).get('/assets/app.js');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toMatch(/max-age=3600/);
    expect(res.text).toBe('console.log("dashboard")');
    const head = await request(t.server).head('/assets/app.js');
    expect(head.status).toBe(200);
  });

  it('never answers an API path with the dashboard', async () => {
    for (const path of ['/api', '/api/', '/api/nothing-here', '/api/connections/x/nothing?y=1']) {
      const res = await request(t.server).get(path);
      expect(res.text).not.toContain('<title>Jobtrail</title>');
      expectProblem(res, 404, 'route-not-found');
    }
    // Only GETs fall back to the dashboard.
    expectProblem(await request(t.server).post('/jobs').send({}), 404, 'route-not-found');
  });

  it('serves neither dotfiles nor files outside its folder', async () => {
    for (const path of [
      '/.env',
      '/../outside.txt',
      '/assets/../../outside.txt',
      '/%2e%2e/outside.txt',
      '/..%2foutside.txt',
    ]) {
      const res = await rawGet(path);
      expect({ path, leaked: /secret/.test(res.text) }).toEqual({ path, leaked: false });
      expect(res.status).toBeLessThan(500);
    }
  });
});
