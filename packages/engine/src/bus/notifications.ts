import { placeholders, type SqlExecutor } from '../database/database.js';
import type { JobChange, WebhookDeliveryChange } from './job-events.bus.js';

/** The PostgreSQL channel every process LISTENs on for live changes. */
export const CHANNEL = 'jobtrail_events';
// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
const MAX_PAYLOAD = 7_900;
const NOTIFIES_PER_QUERY = 50;

/** Changes packed into JSON arrays that each fit in one notification. */
export function changePayloads(changes: ReadonlyArray<JobChange | WebhookDeliveryChange>): string[] {
  const payloads: string[] = [];
  let batch: string[] = [];
  let size = 2;
  for (const c of changes) {
    let json = JSON.stringify(c);
    // A long error detail is the only unbounded part; clients read it in full from the API.
    if (json.length + 2 > MAX_PAYLOAD && c.type !== 'webhook.delivery')
      json = JSON.stringify({ ...c, job: { ...c.job, error: c.job.error ? { ...c.job.error, detail: '' } : null } });
    if (size + json.length + 1 > MAX_PAYLOAD && batch.length > 0) {
      payloads.push(`[${batch.join(',')}]`);
      batch = [];
      size = 2;
    }
    batch.push(json);
    size += json.length + 1;
  }
  if (batch.length > 0) payloads.push(`[${batch.join(',')}]`);
  return payloads;
}

/**
 * Sends notifications on PostgreSQL through `executor`. In a transaction, PostgreSQL holds them
 * until the commit and drops them on a rollback, which is what makes a change and its announcement
 * one atomic step.
 */
export async function notify(executor: SqlExecutor, payloads: readonly string[]): Promise<void> {
  for (let i = 0; i < payloads.length; i += NOTIFIES_PER_QUERY) {
    const slice = payloads.slice(i, i + NOTIFIES_PER_QUERY);
    await executor.query(
      `SELECT ${slice.map((_, j) => `pg_notify(${placeholders(2, 2 * j + 1)})`).join(', ')}`,
      slice.flatMap((p) => [CHANNEL, p]),
    );
  }
}
