import { Injectable } from '@nestjs/common';
import { JOB_ACTIONS, JOB_STATUSES } from '@jobtrail/domain';
import { Database } from '@jobtrail/engine';

/** Upper bounds (seconds) of the job duration histogram. */
const BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

/** Prometheus metrics: job counts from the database, durations observed by this process's workers. */
@Injectable()
export class MetricsService {
  private readonly durations = new Map<string, Histogram>();

  constructor(private readonly db: Database) {}

  /** Records how long a finished attempt took. */
  observeJob(action: string, status: string, seconds: number): void {
    const key = `${action}\u0000${status}`;
    let h = this.durations.get(key);
    if (!h) {
      h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.durations.set(key, h);
    }
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) h.counts[i] = (h.counts[i] ?? 0) + 1;
    });
    h.sum += seconds;
    h.count += 1;
  }

  /** The exposition text of every metric. */
  async render(now = Date.now()): Promise<string> {
    const counts = await this.db.query<{ status: string; action: string; n: number | string }>(
      'SELECT status, action, COUNT(*) AS n FROM jobs GROUP BY status, action',
    );
    const [due] = await this.db.query<{ n: number | string; oldest: number | string | null }>(
      `SELECT COUNT(*) AS n, MIN(run_at) AS oldest FROM jobs WHERE status = 'pending' AND run_at <= $1`,
      [now],
    );
    const byKey = new Map(counts.map((c) => [`${c.status}/${c.action}`, Number(c.n)]));
    const out: string[] = ['# HELP jobtrail_jobs Jobs by status and action.', '# TYPE jobtrail_jobs gauge'];
    for (const status of JOB_STATUSES) {
      for (const action of JOB_ACTIONS)
        out.push(`jobtrail_jobs{status="${status}",action="${action}"} ${byKey.get(`${status}/${action}`) ?? 0}`);
    }
    out.push(
      '# HELP jobtrail_queue_depth Pending jobs that are due now.',
      '# TYPE jobtrail_queue_depth gauge',
      `jobtrail_queue_depth ${Number(due?.n ?? 0)}`,
    );
    const lag = due?.oldest == null ? 0 : Math.max(0, (now - Number(due.oldest)) / 1000);
    out.push(
      '# HELP jobtrail_queue_lag_seconds How long the oldest due pending job has waited.',
      '# TYPE jobtrail_queue_lag_seconds gauge',
      `jobtrail_queue_lag_seconds ${lag}`,
    );
    out.push(
      '# HELP jobtrail_job_duration_seconds Duration of finished attempts run by this process.',
      '# TYPE jobtrail_job_duration_seconds histogram',
    );
    for (const [key, h] of this.durations) {
      const [action, status] = key.split('\u0000');
      const labels = `action="${action}",status="${status}"`;
      BUCKETS.forEach((b, i) => out.push(`jobtrail_job_duration_seconds_bucket{${labels},le="${b}"} ${h.counts[i]}`));
      out.push(`jobtrail_job_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      out.push(
        `jobtrail_job_duration_seconds_sum{${labels}} ${h.sum}`,
        `jobtrail_job_duration_seconds_count{${labels}} ${h.count}`,
      );
    }
    return `${out.join('\n')}\n`;
  }
}
