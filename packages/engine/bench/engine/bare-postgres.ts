/**
 * The PostgreSQL floor: bare node-postgres loops writing the rows a Jobtrail drain writes (each job
 * claimed and completed with full history: its events under the events' order lock, a notification
 * a batch, its connection's status), in the fewest round trips the schema allows and nothing else.
 * No domain, no fence read, no outbox. What it reaches is the most any code could drain with these
 * rows on this server: the ceiling of the schema, against which Jobtrail and the peers are read.
 *
 * Two schemas:
 * - `wide`: today's. A claim updates the job's row (to processing); a completion updates it again.
 * - `narrow`: a queue table of active jobs (job, connection, run_at, attempt, lease) beside `jobs`.
 *   A claim leases the queue row and leaves `jobs` alone; a completion deletes the queue row and
 *   writes the job's row once. The lever issue 13 names, measured before it is built.
 *
 * Per batch (`batch` jobs), on one connection with pipelining (BEGIN, statements and COMMIT written
 * at once): the claim is one statement (lease the due jobs, insert their transition events, notify)
 * in one round trip; the completion is two statements (the rows; then the events and the
 * notification, under the order lock, after every row lock) in one round trip. `connections` such
 * loops run at once (SKIP LOCKED keeps them apart).
 */
import { createJob } from '@jobtrail/domain';
import pg from 'pg';
import { JOB_COLUMNS, jobToValues, placeholders, uuidv7 } from '../../src/index.js';
import { latencyOf, log, pgClient, sleep, withTimeout, type DrainResult, type LatencyResult } from './common.js';
import {
  FRESH_REFRESH_STEPS_JSON,
  eventShapeValues,
  scratch,
  seedJobtrail,
  succeededRefreshStepsJson,
  type EventTemplate,
} from './jobtrail.js';

/** The schemas the floor can run on (see the module's comment). */
export type FloorSchema = 'wide' | 'narrow';

/** One drain of the floor. */
export interface FloorDrainOptions {
  readonly schema: FloorSchema;
  readonly jobs: number;
  /** Jobs claimed (and completed) per transaction. */
  readonly batch: number;
  /** Loops running at once, each on its own connection. */
  readonly connections: number;
  /** The rows Jobtrail wrote per job in the same run. */
  readonly template: EventTemplate;
  readonly leaseMs: number;
  readonly deadlineMs: number;
}

/** The order lock's key, as in JobsStore (EVENT_ORDER_LOCK). */
const EVENT_ORDER_LOCK = 7_401_442_001;
const CHANNEL = 'jobtrail_floor';

const EVENT_COLUMNS =
  'job_id, tenant_id, connection_id, kind, at, from_status, to_status, reason, actor, attempt, level, step, message, steps, lines';

/** The due-job rule of JobsStore.lockDueJobs (first pending job of its connection, none processing). */
const DUE_WIDE = `SELECT j.id FROM jobs j
   WHERE j.status = 'pending' AND j.run_at <= $1
     AND j.id = (SELECT e.id FROM jobs e WHERE e.connection_id = j.connection_id AND e.status = 'pending'
                 ORDER BY e.created_at, e.id LIMIT 1)
     AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.connection_id = j.connection_id AND p.status = 'processing')
   ORDER BY j.run_at LIMIT $2 FOR UPDATE OF j SKIP LOCKED`;
const DUE_NARROW = `SELECT q.job_id FROM job_queue q
   WHERE q.lease_owner IS NULL AND q.run_at <= $1
     AND q.job_id = (SELECT e.job_id FROM job_queue e WHERE e.connection_id = q.connection_id AND e.lease_owner IS NULL
                     ORDER BY e.job_id LIMIT 1)
     AND NOT EXISTS (SELECT 1 FROM job_queue p WHERE p.connection_id = q.connection_id AND p.lease_owner IS NOT NULL)
   ORDER BY q.run_at LIMIT $2 FOR UPDATE OF q SKIP LOCKED`;

/** The claim's transition event, then one notification for the batch: the rest of the claim statement. */
const claimEventsSql = (claimed: string, reason: string) => `,
  commit_order AS (SELECT pg_advisory_xact_lock(${EVENT_ORDER_LOCK}) FROM (SELECT 1 FROM ${claimed} LIMIT 1) any_claimed),
  new_events AS (INSERT INTO job_events (${EVENT_COLUMNS})
    SELECT c.id, c.tenant_id, c.connection_id, 'transition', $1, 'pending', 'processing', ${reason}, $3, c.attempt,
           NULL, NULL, NULL, NULL, NULL
      FROM ${claimed} c, commit_order RETURNING id)
  SELECT c.id, c.tenant_id, c.connection_id, c.attempt,
         (SELECT pg_notify('${CHANNEL}', count(*)::text) FROM new_events) AS notified
    FROM ${claimed} c`;

const CLAIM_WIDE = `WITH due AS (${DUE_WIDE}),
  claimed AS (UPDATE jobs SET status = 'processing', updated_at = $1, started_at = $1, attempt = jobs.attempt + 1,
      lease_owner = $3, lease_expires_at = $4, deadline_at = $5, steps = $6, error = NULL, error_code = NULL,
      version = jobs.version + 1
    FROM due WHERE jobs.id = due.id
    RETURNING jobs.id, jobs.tenant_id, jobs.connection_id, jobs.attempt)${claimEventsSql('claimed', '$7')}`;

/** The claim's write after a locking read of the due jobs ($2: their ids), as code that decides in between writes it. */
const CLAIM_LOCKED_WIDE = `WITH due AS (SELECT unnest(CAST($2 AS VARCHAR[])) AS id),
  claimed AS (UPDATE jobs SET status = 'processing', updated_at = $1, started_at = $1, attempt = jobs.attempt + 1,
      lease_owner = $3, lease_expires_at = $4, deadline_at = $5, steps = $6, error = NULL, error_code = NULL,
      version = jobs.version + 1
    FROM due WHERE jobs.id = due.id
    RETURNING jobs.id, jobs.tenant_id, jobs.connection_id, jobs.attempt)${claimEventsSql('claimed', '$7')}`;
const READ_DUE_WIDE = DUE_WIDE.replace('SELECT j.id FROM', 'SELECT j.* FROM');

const CLAIM_NARROW = `WITH due AS (${DUE_NARROW}),
  leased AS (UPDATE job_queue q SET attempt = q.attempt + 1, lease_owner = $3, lease_expires_at = $4, deadline_at = $5
    FROM due WHERE q.job_id = due.job_id
    RETURNING q.job_id AS id, q.tenant_id, q.connection_id, q.attempt)${claimEventsSql('leased', '$6')}`;

const completeRowsSql = (schema: FloorSchema) => `WITH v AS (
    SELECT * FROM unnest(CAST($1 AS VARCHAR[]), CAST($2 AS INTEGER[])) AS v (id, attempt)),
  ${schema === 'narrow' ? 'dequeued AS (DELETE FROM job_queue q USING v WHERE q.job_id = v.id AND q.attempt = v.attempt RETURNING 1),' : ''}
  done AS (UPDATE jobs SET status = 'success', updated_at = $3, finished_at = $3,
      ${schema === 'narrow' ? 'started_at = $3, attempt = v.attempt,' : ''}
      lease_owner = NULL, lease_expires_at = NULL, deadline_at = NULL, steps = $4, result = $5,
      version = jobs.version + ${schema === 'narrow' ? 2 : 1}
    FROM v WHERE jobs.id = v.id ${schema === 'narrow' ? "AND jobs.status = 'pending'" : "AND jobs.status = 'processing' AND jobs.attempt = v.attempt"}
    RETURNING jobs.id, jobs.connection_id)
  UPDATE connections c SET status = 'active', last_refresh_job_id = done.id
    FROM done WHERE c.id = done.connection_id`;

const COMPLETE_EVENTS = `WITH commit_order AS (SELECT pg_advisory_xact_lock(${EVENT_ORDER_LOCK})),
  new_events AS (INSERT INTO job_events (${EVENT_COLUMNS})
    SELECT e.* FROM commit_order, unnest(CAST($1 AS VARCHAR[]), CAST($2 AS VARCHAR[]), CAST($3 AS VARCHAR[]),
      CAST($4 AS VARCHAR[]), CAST($5 AS BIGINT[]), CAST($6 AS VARCHAR[]), CAST($7 AS VARCHAR[]), CAST($8 AS VARCHAR[]),
      CAST($9 AS VARCHAR[]), CAST($10 AS INTEGER[]), CAST($11 AS VARCHAR[]), CAST($12 AS VARCHAR[]), CAST($13 AS TEXT[]),
      CAST($14 AS TEXT[]), CAST($15 AS TEXT[])) AS e
    RETURNING id)
  SELECT pg_notify('${CHANNEL}', count(*)::text) FROM new_events`;

/** The narrow schema's queue table, filled with the seeded pending jobs. */
const NARROW_SCHEMA = [
  `CREATE TABLE job_queue (
     job_id VARCHAR(36) PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
     tenant_id VARCHAR(36) NOT NULL,
     connection_id VARCHAR(36) NOT NULL,
     run_at BIGINT NOT NULL,
     attempt INTEGER NOT NULL,
     lease_owner VARCHAR(100) NULL,
     lease_expires_at BIGINT NULL,
     deadline_at BIGINT NULL)`,
  'CREATE INDEX ix_job_queue_due ON job_queue (run_at) WHERE lease_owner IS NULL',
  'CREATE INDEX ix_job_queue_connection ON job_queue (connection_id, job_id) WHERE lease_owner IS NULL',
  'CREATE UNIQUE INDEX ux_job_queue_one_leased ON job_queue (connection_id) WHERE lease_owner IS NOT NULL',
  'CREATE INDEX ix_job_queue_lease ON job_queue (lease_expires_at) WHERE lease_owner IS NOT NULL',
  `INSERT INTO job_queue (job_id, tenant_id, connection_id, run_at, attempt)
     SELECT id, tenant_id, connection_id, run_at, attempt FROM jobs WHERE status = 'pending'`,
  'ANALYZE job_queue',
];

/** node-postgres 8.21+ writes each query at once instead of after the previous answer. */
function pipelined(client: pg.Client): pg.Client {
  (client as pg.Client & { pipeline: boolean }).pipeline = true;
  return client;
}

interface Claimed {
  id: string;
  tenant_id: string;
  connection_id: string;
  attempt: number;
}

/** Prepares the seeded database for `schema` (the narrow one adds its queue table). */
export async function prepareFloorSchema(url: string, schema: FloorSchema): Promise<void> {
  if (schema === 'wide') return;
  const c = await pgClient(url);
  try {
    for (const sql of NARROW_SCHEMA) await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * Drains a database seeded as Jobtrail's drain seeds it (every job pending and due), with
 * `connections` loops claiming `batch` jobs at a time. Checks that every job succeeded with the template's
 * events.
 */
export async function barePostgresDrain(
  url: string,
  { schema, jobs, batch, connections, template, leaseMs, deadlineMs }: FloorDrainOptions,
): Promise<DrainResult & { eventsPerJob: number }> {
  const claimEvent = template.claim[0];
  if (template.claim.length !== 1 || claimEvent?.kind !== 'transition')
    throw new Error(`the floor writes one transition at a claim, Jobtrail wrote ${JSON.stringify(template.claim)}`);
  const result = JSON.stringify({ accounts: 0, transactions: 0 });
  const clients = await Promise.all(Array.from({ length: connections }, () => pgClient(url)));
  try {
    clients.forEach(pipelined);
    const claimText = schema === 'wide' ? CLAIM_WIDE : CLAIM_NARROW;
    const completeRows = completeRowsSql(schema);
    let done = 0;
    const loop = async (client: pg.Client, n: number) => {
      const actor = `floor:${process.pid}:${n}`;
      for (;;) {
        const now = Date.now();
        const [, claim] = await Promise.all([
          client.query('BEGIN'),
          client.query<Claimed>({
            name: `floor_claim_${schema}`,
            text: claimText,
            // The narrow claim leaves the job's row (and its fresh steps) alone.
            values:
              schema === 'wide'
                ? [now, batch, actor, now + leaseMs, now + deadlineMs, FRESH_REFRESH_STEPS_JSON, claimEvent.reason]
                : [now, batch, actor, now + leaseMs, now + deadlineMs, claimEvent.reason],
          }),
          client.query('COMMIT'),
        ]);
        const rows = claim.rows;
        if (rows.length === 0) return;
        const end = Date.now();
        const steps = succeededRefreshStepsJson(new Date(end));
        const events = rows.flatMap((r) => template.completion.map((e) => eventShapeValues(r, e, end, actor)));
        const columns = Array.from({ length: 15 }, (_, i) => events.map((e) => e[i]));
        const [, updated] = await Promise.all([
          client.query('BEGIN'),
          client.query({
            name: `floor_complete_${schema}`,
            text: completeRows,
            values: [rows.map((r) => r.id), rows.map((r) => r.attempt), end, steps, result],
          }),
          client.query({ name: 'floor_events', text: COMPLETE_EVENTS, values: columns }),
          client.query('COMMIT'),
        ]);
        if (updated.rowCount !== rows.length)
          throw new Error(`floor: ${updated.rowCount} connections updated for ${rows.length} jobs`);
        done += rows.length;
      }
    };
    const t0 = performance.now();
    await Promise.all(clients.map((c, n) => loop(c, n)));
    const seconds = (performance.now() - t0) / 1000;
    const check = clients[0] as pg.Client;
    const success = Number(
      (await check.query<{ n: string }>(`SELECT COUNT(*) AS n FROM jobs WHERE status = 'success'`)).rows[0]?.n,
    );
    if (done !== jobs || success !== jobs) throw new Error(`floor: ${success} jobs succeeded of ${jobs}`);
    const events = Number((await check.query<{ n: string }>('SELECT COUNT(*) AS n FROM job_events')).rows[0]?.n);
    return { jobs, seconds, secondsFromStart: seconds, eventsPerJob: events / jobs };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

/** The floor on a fresh database of its own, seeded as Jobtrail's drain is. */
export async function floorDrain(
  pgServer: string,
  options: FloorDrainOptions,
): Promise<DrainResult & { eventsPerJob: number }> {
  const { schema, jobs, batch, connections } = options;
  const s = await scratch('postgres', pgServer, `floor_${schema}`);
  try {
    if (s.database.kind !== 'postgres') throw new Error('the floor runs on PostgreSQL');
    log(`PostgreSQL floor (${schema}): seeding ${jobs.toLocaleString('en')} connections with a pending refresh each`);
    await seedJobtrail(s.database, jobs, true);
    await prepareFloorSchema(s.database.url, schema);
    log(`PostgreSQL floor (${schema}): draining (${connections} connections, batches of ${batch})`);
    return await barePostgresDrain(s.database.url, options);
  } finally {
    await s.cleanup();
  }
}

const CREATED_CHANNEL = 'jobtrail_floor_created';

/**
 * How the pickup floor claims: `one statement` (lease, event and notification in one round trip),
 * or `read, then write`: a locking read of the due jobs, then the write, its event, notification
 * and COMMIT in a second round trip. The second is the least a claim takes whose transition is
 * decided by code between the read and the write (Jobtrail's domain), rather than in SQL.
 */
export type FloorClaimShape = 'one statement' | 'read, then write';

/**
 * The create of the pickup floor, one statement after the job's row: the connection's latest job
 * and the creation event (its "requested by" line folded in, as Jobtrail folds it) with the
 * notification that wakes the worker, under the order lock.
 */
const CREATE_EVENTS = `WITH latest AS (UPDATE connections SET latest_job_id = $1 WHERE id = $3 RETURNING 1),
  commit_order AS (SELECT pg_advisory_xact_lock(${EVENT_ORDER_LOCK}) FROM latest),
  new_events AS (INSERT INTO job_events (${EVENT_COLUMNS})
    SELECT $1, $2, $3, 'created', $4, NULL, 'pending', 'requested', 'bench', 0, NULL, NULL, NULL, NULL, $5
      FROM commit_order RETURNING id)
  SELECT pg_notify('${CREATED_CHANNEL}', $1 || ':' || id) FROM new_events`;

/**
 * Pickup on the floor (today's schema): a job created in one round trip (BEGIN, its row, its
 * event and notification, COMMIT written at once), a LISTENing worker that claims on the
 * notification (see FloorClaimShape). Timed from the create's start to the claim's commit answered.
 */
export async function floorLatency(
  claimShape: FloorClaimShape,
  pgServer: string,
  samples: number,
  warmup: number,
  spacingMs: number,
  leaseMs: number,
  deadlineMs: number,
): Promise<LatencyResult> {
  const s = await scratch('postgres', pgServer, 'floor_latency');
  const clients: pg.Client[] = [];
  try {
    if (s.database.kind !== 'postgres') throw new Error('the floor runs on PostgreSQL');
    const url = s.database.url;
    const total = warmup + samples;
    const { tenantId, connectionIds } = await seedJobtrail(s.database, total, false);
    const [creator, listener, worker] = await Promise.all([pgClient(url), pgClient(url), pgClient(url)]);
    clients.push(pipelined(creator), listener, pipelined(worker));
    const waiting = new Map<string, (at: number) => void>();
    let claiming = false;
    let again = false;
    const claim = async (): Promise<void> => {
      if (claiming) {
        again = true;
        return;
      }
      claiming = true;
      try {
        do {
          again = false;
          const now = Date.now();
          const values: unknown[] = [
            now,
            100,
            'floor',
            now + leaseMs,
            now + deadlineMs,
            FRESH_REFRESH_STEPS_JSON,
            'claimed',
          ];
          let claimed: pg.QueryResult<Claimed>;
          if (claimShape === 'one statement') {
            [, claimed] = await Promise.all([
              worker.query('BEGIN'),
              worker.query<Claimed>({ name: 'floor_claim_wide', text: CLAIM_WIDE, values }),
              worker.query('COMMIT'),
            ]);
          } else {
            const [, due] = await Promise.all([
              worker.query('BEGIN'),
              worker.query<{ id: string }>({ name: 'floor_read_due', text: READ_DUE_WIDE, values: [now, 100] }),
            ]);
            values[1] = due.rows.map((r) => r.id);
            [claimed] = await Promise.all([
              worker.query<Claimed>({ name: 'floor_claim_locked', text: CLAIM_LOCKED_WIDE, values }),
              worker.query('COMMIT'),
            ]);
          }
          const at = performance.now();
          for (const r of claimed.rows) waiting.get(r.connection_id)?.(at);
        } while (again);
      } finally {
        claiming = false;
      }
    };
    listener.on('notification', () => void claim());
    await listener.query(`LISTEN ${CREATED_CHANNEL}`);
    log(`PostgreSQL floor: pickup latency, ${total} jobs ${spacingMs} ms apart (${warmup} warm-up)`);
    const out: number[] = [];
    let next = performance.now();
    for (let i = 0; i < total; i++) {
      const connectionId = connectionIds[i] as string;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      const claimed = new Promise<number>((resolve) => waiting.set(connectionId, resolve));
      const t0 = performance.now();
      next = t0 + spacingMs;
      const now = new Date();
      const job = createJob({ id: uuidv7(now.getTime()), connectionId, action: 'refresh', now, maxAttempts: 3 });
      await Promise.all([
        creator.query('BEGIN'),
        creator.query({
          name: 'floor_create_job',
          text: `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${placeholders(JOB_COLUMNS.length)})`,
          values: jobToValues(job, tenantId),
        }),
        creator.query({
          name: 'floor_create_events',
          text: CREATE_EVENTS,
          values: [job.id, tenantId, connectionId, now.getTime(), '[{"level":"info","message":"refresh requested"}]'],
        }),
        creator.query('COMMIT'),
      ]);
      const at = await withTimeout(claimed, 10_000, `PostgreSQL floor: job ${i} was not picked up`);
      waiting.delete(connectionId);
      if (i >= warmup) out.push(at - t0);
    }
    return latencyOf(out);
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await s.cleanup();
  }
}
