import { placeholders, type SqlExecutor } from '../database/database.js';
import type { JobChange, WebhookDeliveryChange } from './job-events.bus.js';

/** The PostgreSQL channel every process LISTENs on for live changes. */
export const CHANNEL = 'jobtrail_events';
// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
const MAX_PAYLOAD = 7_900;
const NOTIFIES_PER_QUERY = 50;

/** A change as one notification carries it: a long error detail is the only unbounded part. */
function changeJson(c: JobChange | WebhookDeliveryChange): string {
  const json = JSON.stringify(c);
  // Clients read a long error detail in full from the API.
  if (json.length + 2 > MAX_PAYLOAD && c.type !== 'webhook.delivery')
    return JSON.stringify({ ...c, job: { ...c.job, error: c.job.error ? { ...c.job.error, detail: '' } : null } });
  return json;
}

/** Changes packed into JSON arrays that each fit in one notification. */
export function changePayloads(changes: ReadonlyArray<JobChange | WebhookDeliveryChange>): string[] {
  const payloads: string[] = [];
  let batch: string[] = [];
  let size = 2;
  for (const c of changes) {
    const json = changeJson(c);
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
 * Job changes whose ids (their newest event's id) the database has not drawn yet, for a statement
 * that inserts the events and notifies at once (`notifySql`): each change's JSON after its id, the
 * job whose id goes in front, and the notification it goes in (numbered from 0, each under the
 * payload limit whatever the ids turn out to be).
 */
export interface PendingChangePayloads {
  readonly jobIds: string[];
  readonly suffixes: string[];
  readonly chunks: number[];
}

/** The longest an event id can print (a BIGINT). */
const MAX_ID_DIGITS = 20;
const ID_PREFIX = '{"id":';

/** `changes` (ids to be drawn) as PendingChangePayloads. */
export function pendingChangePayloads(changes: readonly JobChange[]): PendingChangePayloads {
  const out: PendingChangePayloads = { jobIds: [], suffixes: [], chunks: [] };
  let chunk = 0;
  let size = 2;
  for (const c of changes) {
    const json = changeJson({ ...c, id: 0 });
    // The id is the change's first key: what follows it is the same whatever the id.
    if (!json.startsWith(`${ID_PREFIX}0,`)) throw new Error('a job change must start with its id');
    const suffix = json.slice(ID_PREFIX.length + 1);
    const length = ID_PREFIX.length + MAX_ID_DIGITS + suffix.length;
    if (size + length + 1 > MAX_PAYLOAD && size > 2) {
      chunk++;
      size = 2;
    }
    out.jobIds.push(c.job.job_id);
    out.suffixes.push(suffix);
    out.chunks.push(chunk);
    size += length + 1;
  }
  return out;
}

/**
 * SQL sending PendingChangePayloads (parameters `$first` to `$first + 2`), each id taken from
 * `ids` (a relation of job_id, id; a job it lacks gets 0): one notification per chunk, in chunk
 * order. A SELECT whose rows must be read for the notifications to be sent.
 */
export function notifySql(first: number, ids: string): string {
  return `SELECT pg_notify('${CHANNEL}', p.payload) AS sent FROM (
      SELECT n.chunk, '[' || string_agg('${ID_PREFIX}' || COALESCE(l.id, 0) || n.suffix, ',' ORDER BY n.ord) || ']' AS payload
        FROM unnest(CAST($${first} AS VARCHAR[]), CAST($${first + 1} AS TEXT[]), CAST($${first + 2} AS INTEGER[]))
          WITH ORDINALITY AS n (job_id, suffix, chunk, ord)
        LEFT JOIN ${ids} l ON l.job_id = n.job_id
       GROUP BY n.chunk ORDER BY n.chunk) p`;
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
