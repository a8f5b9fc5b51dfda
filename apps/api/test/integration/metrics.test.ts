/**
 * `/api/metrics` through a real Prometheus text parser: Node's process families (prom-client's
 * default metrics) and every job family with the names, types and labels dashboards were built on
 * before prom-client; and the optional scrape token.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JOB_ACTIONS, JOB_STATUSES, isTerminal } from '@jobtrail/domain';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import request from 'supertest';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import { bearer } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();

/** The job families as they were before prom-client (names, types, labels, histogram buckets). */
const JOB_FAMILIES = {
  jobtrail_jobs: { type: 'GAUGE', labels: ['action', 'status'] },
  jobtrail_queue_depth: { type: 'GAUGE', labels: [] },
  jobtrail_queue_lag_seconds: { type: 'GAUGE', labels: [] },
  jobtrail_job_duration_seconds: { type: 'HISTOGRAM', labels: ['action', 'status'] },
} as const;
const BUCKETS = ['0.01', '0.05', '0.1', '0.5', '1', '2', '5', '10', '30', '60', '300', '+Inf'];

/** Families every Node exporter has: memory, CPU, event-loop lag, GC, heap. */
const PROCESS_FAMILIES = [
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_resident_memory_bytes',
  'process_start_time_seconds',
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_heap_size_used_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_gc_duration_seconds',
  'nodejs_active_handles_total',
  'nodejs_version_info',
];

describe.each(kinds)('GET /metrics on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'all' });
  });
  afterAll(() => t.close());

  const scrape = async (): Promise<Map<string, PrometheusFamily>> => {
    const res = await request(t.server).get('/api/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return new Map(parsePrometheusTextFormat(res.text).map((f) => [f.name, f]));
  };

  it('has the process families and every job family, with their labels', async () => {
    const created = await request(t.server)
      .post('/api/connections')
      .set(bearer(t.adminKey))
      .send({ institution_id: 'sandbox', login_id: 'user-ok', password: 'pw' })
      .expect(202);
    const jobId = created.body.job.job_id as string;
    await waitFor('the refresh to finish', async () => {
      const res = await request(t.server).get(`/api/jobs/${jobId}`).set(bearer(t.adminKey)).expect(200);
      return isTerminal(res.body.status) ? true : undefined;
    });

    const families = await scrape();
    for (const name of PROCESS_FAMILIES) expect({ name, present: families.has(name) }).toEqual({ name, present: true });
    for (const [name, spec] of Object.entries(JOB_FAMILIES)) {
      const family = families.get(name);
      expect({ name, type: family?.type }).toEqual({ name, type: spec.type });
      // (The parser folds the samples of a labelled histogram into one; its labels are checked below.)
      if (spec.type === 'HISTOGRAM') continue;
      for (const sample of family!.metrics)
        expect({ name, labels: Object.keys(sample.labels ?? {}).sort() }).toEqual({ name, labels: spec.labels });
    }
    // Every status × action pair is present, zero or not.
    const jobs = families.get('jobtrail_jobs')!.metrics;
    expect(jobs.map((m) => `${m.labels!.status}/${m.labels!.action}`).sort()).toEqual(
      JOB_STATUSES.flatMap((s) => JOB_ACTIONS.map((a) => `${s}/${a}`)).sort(),
    );
    const value = (status: string, action: string) =>
      Number(jobs.find((m) => m.labels!.status === status && m.labels!.action === action)?.value);
    expect(value('success', 'refresh')).toBeGreaterThanOrEqual(1);
    const [duration] = families.get('jobtrail_job_duration_seconds')!.metrics;
    expect(Object.keys(duration!.buckets!).sort()).toEqual([...BUCKETS].sort());
    // The histogram's labelled series, through prom-client's own registry.
    const histogram = (await t.app.get(MetricsService).registry.getMetricsAsJSON()).find(
      (m) => m.name === 'jobtrail_job_duration_seconds',
    );
    const count = histogram?.values.find(
      (v) =>
        (v as { metricName?: string }).metricName === 'jobtrail_job_duration_seconds_count' &&
        v.labels.action === 'refresh' &&
        v.labels.status === 'success',
    );
    expect(count?.value).toBeGreaterThanOrEqual(1);
    for (const v of histogram!.values)
      expect(
        Object.keys(v.labels)
          .filter((l) => l !== 'le')
          .sort(),
      ).toEqual(['action', 'status']);
    expect(Number(families.get('jobtrail_queue_depth')!.metrics[0]!.value)).toBeGreaterThanOrEqual(0);
  });

  it('reads the database at most once per refresh window, however often it is scraped', async () => {
    let reads = 0;
    const query = t.db.query.bind(t.db);
    t.db.query = ((sql: string, params?: readonly unknown[]) => {
      if (/FROM jobs/.test(sql)) reads++;
      return query(sql, params);
    }) as typeof t.db.query;
    try {
      await Promise.all(Array.from({ length: 20 }, () => scrape()));
    } finally {
      t.db.query = query;
    }
    // Two indexed queries per refresh, at most one refresh for the 20 scrapes.
    expect(reads).toBeLessThanOrEqual(2);
  });
});

describe('GET /metrics with JOBTRAIL_METRICS_TOKEN', () => {
  const TOKEN = 'metrics-token-0123456789abcdef';
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('sqlite', { metricsToken: TOKEN });
  });
  afterAll(() => t.close());

  it('answers 401 problem+json without the token, with a wrong one or with an API key', async () => {
    for (const headers of [
      {},
      bearer(`${TOKEN}x`),
      bearer(TOKEN.slice(0, -1)),
      bearer(t.adminKey),
      { Authorization: TOKEN },
    ]) {
      const res = await request(t.server).get('/api/metrics').set(headers).expect(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.code).toBe('unauthorized');
      expect(res.text).not.toContain(TOKEN);
    }
  });

  it('answers the metrics with the token', async () => {
    const res = await request(t.server).get('/api/metrics').set(bearer(TOKEN)).expect(200);
    expect(parsePrometheusTextFormat(res.text).map((f) => f.name)).toContain('jobtrail_jobs');
  });
});
