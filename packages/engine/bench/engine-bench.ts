/**
 * `pnpm bench` (or BENCH_ONLY=engine): Jobtrail's execution engine against its peers, in one run on
 * the same machine and the same PostgreSQL server, each system in its own fresh database. Ratios are
 * what count (absolute figures drift on shared machines).
 *
 * 1. Drain on PostgreSQL: BENCH_DRAIN_JOBS pending jobs, a worker started, time until all are done.
 *    Jobtrail (no-op institution, one job per connection, full history and events kept) against
 *    graphile-worker 0.17 with its batching (same concurrency, local queue 500, batched completion),
 *    graphile-worker with default settings, and pg-boss 10 (work() with batchSize 100). Then the
 *    floors (engine/bare-postgres.ts): bare loops writing Jobtrail's rows, on today's schema and on
 *    one with a narrow queue table: the ceiling any code reaches with full history on this server.
 * 2. Pickup latency on PostgreSQL, idle worker: jobs created one at a time, BENCH_LATENCY_SPACING_MS
 *    apart; Jobtrail (JobsService.startAction → `processing` on the JobEventsBus, and → the
 *    connector's first step) against graphile-worker (addJob → task called). Then the floors: a bare
 *    create (one round trip) and claim writing Jobtrail's rows, the claim in one round trip or in
 *    two (read, then write: the least for a transition decided in code), engine/bare-postgres.ts.
 * 3. Drain on SQLite: Jobtrail against a bare better-sqlite3 loop running the same claim/complete
 *    statements and writing the same job_events rows.
 *
 * 4. Webhooks (PostgreSQL, then SQLite): job changes committed at BENCH_WEBHOOK_RATE per second to
 *    one subscription on a receiver on 127.0.0.1 (verifying every signature with standardwebhooks):
 *    delivery throughput and lag (commit → 2xx) p50/p99; then the same number as a backlog, sent
 *    as fast as the dispatcher can (production settings: endpoint cap 4, 32 in flight).
 *
 * Drains are timed from the first job handed to a handler (framework start-up excluded; the figure
 * with start-up is printed below the table) to the poll that finds no job left to do (every 20 ms,
 * once every job reached its handler, so no system drains under poll load).
 *
 * Environment:
 *   BENCH_PG_URL              PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
 *   BENCH_DRAIN_JOBS          jobs per drain (default 20,000)
 *   BENCH_CONCURRENCY         Jobtrail's worker concurrency, and graphile's in its batching run (default 100)
 *   BENCH_LATENCY_JOBS        measured jobs per latency run (default 200, after 20 warm-up jobs)
 *   BENCH_LATENCY_SPACING_MS  spacing of the latency jobs (default 10)
 *   BENCH_DRAIN_TIMEOUT_S     longest wait for one drain (default 300)
 *   BENCH_WEBHOOK_JOBS        job changes per webhook run (default 10,000)
 *   BENCH_WEBHOOK_RATE        job changes per second in the paced webhook run (default 1,000)
 *   BENCH_WEBHOOK_ENDPOINT_CONCURRENCY  the endpoint's cap (default 4, as JOBTRAIL_WEBHOOK_ENDPOINT_CONCURRENCY)
 *   BENCH_SQLITE_PAIRS        Jobtrail / bare-loop SQLite drains run in alternation; the pair with the median
 *                             ratio is reported, the others listed under the table (default 3: one pair
 *                             swung from 0.48x to 0.72x between runs on a shared 2-core machine)
 *   BENCH_PG_FLOOR_CONNECTIONS  connections of the bare PostgreSQL floor loops (default 2: the fastest of 1, 2, 4
 *                             and 8 here; more contend for the events' order lock)
 *   BENCH_ENGINE              scenarios to run: `drain,latency,sqlite,webhooks` (default), or some of them
 */
import { loadavg } from 'node:os';
import { floorDrain, floorLatency, type FloorClaimShape, type FloorSchema } from './engine/bare-postgres.js';
import { bareSqliteDrain } from './engine/bare-sqlite.js';
import { intEnv, jobsPerSecond, log, type DrainResult, type LatencyResult } from './engine/common.js';
import { jobtrailDrain, jobtrailLatency, seededSqliteScratch, type JobtrailDrainResult } from './engine/jobtrail.js';
import { graphileDrain, graphileLatency, pgBossDrain } from './engine/peers.js';
import { webhookBench, type WebhookBenchResult } from './engine/webhooks.js';

const env = process.env;
const PG_URL = (env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const DRAIN_JOBS = intEnv('BENCH_DRAIN_JOBS', 20_000, 100);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 100, 1, 256);
const LATENCY_JOBS = intEnv('BENCH_LATENCY_JOBS', 200, 10);
const LATENCY_WARMUP = 20;
const SPACING_MS = intEnv('BENCH_LATENCY_SPACING_MS', 10, 0);
const DRAIN_TIMEOUT_MS = intEnv('BENCH_DRAIN_TIMEOUT_S', 300, 10) * 1_000;
const SQLITE_PAIRS = intEnv('BENCH_SQLITE_PAIRS', 3, 1, 15);
const FLOOR_CONNECTIONS = intEnv('BENCH_PG_FLOOR_CONNECTIONS', 2, 1, 16);
const WEBHOOK_JOBS = intEnv('BENCH_WEBHOOK_JOBS', 10_000, 100);
const WEBHOOK_RATE = intEnv('BENCH_WEBHOOK_RATE', 1_000, 1);
const WEBHOOK_ENDPOINT_CONCURRENCY = intEnv('BENCH_WEBHOOK_ENDPOINT_CONCURRENCY', 4, 1, 64);
const SCENARIOS = ['drain', 'latency', 'sqlite', 'webhooks'] as const;
type Scenario = (typeof SCENARIOS)[number];
const SELECTED = (env.BENCH_ENGINE ?? SCENARIOS.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as Scenario[];
/** Jobtrail's defaults for the bare SQLite loop's lease and deadline columns. */
const LEASE_MS = 30_000;
const DEADLINE_MS = 300_000;

interface Row {
  readonly scenario: string;
  readonly jobtrail: string;
  readonly peer: string;
  readonly peerFigure: string;
  /** Jobtrail ÷ peer. */
  readonly ratio: number | null;
  /** Text of the target, and whether the ratio meets it. */
  readonly target: string;
  readonly met: boolean | null;
}

const fmtRate = (r: DrainResult | null) =>
  r ? `${Math.round(jobsPerSecond(r)).toLocaleString('en')} jobs/s` : 'failed';
const fmtMs = (ms: number) => `${ms.toFixed(2)} ms`;

/** Runs a part, logging (not throwing) its failure so the other parts still run. */
async function attempt<T>(what: string, fn: () => Promise<T>, failures: string[]): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`${what} failed: ${message}`);
    failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}

function throughputRow(
  scenario: string,
  jt: DrainResult | null,
  peer: string,
  other: DrainResult | null,
  minRatio: number,
): Row {
  const ratio = jt && other ? jobsPerSecond(jt) / jobsPerSecond(other) : null;
  return {
    scenario,
    jobtrail: fmtRate(jt),
    peer,
    peerFigure: fmtRate(other),
    ratio,
    target: `>= ${minRatio.toFixed(2)}x`,
    met: ratio === null ? null : ratio >= minRatio,
  };
}

/** A row that informs (a ceiling, a breakdown) and has no target of its own. */
function informationRow(row: Row): Row {
  return { ...row, target: '(none)', met: null };
}

function latencyRows(
  label: string,
  jt: LatencyResult | null,
  peer: LatencyResult | null,
  peerName = 'graphile-worker default',
): Row[] {
  return (['median', 'p99'] as const).map((stat) => {
    const a = jt ? (stat === 'median' ? jt.medianMs : jt.p99Ms) : null;
    const b = peer ? (stat === 'median' ? peer.medianMs : peer.p99Ms) : null;
    const ratio = a !== null && b !== null ? a / b : null;
    return {
      scenario: `${label} ${stat}`,
      jobtrail: a === null ? 'failed' : fmtMs(a),
      peer: peerName,
      peerFigure: b === null ? 'failed' : fmtMs(b),
      ratio,
      target: '<= 1.00x',
      met: ratio === null ? null : ratio <= 1,
    };
  });
}

function table(rows: readonly Row[]): string {
  const lines = [
    ['scenario', 'Jobtrail', 'peer', 'peer figure', 'ratio', 'target', ''],
    ...rows.map((r) => [
      r.scenario,
      r.jobtrail,
      r.peer,
      r.peerFigure,
      r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
      r.target,
      r.met === null ? '' : r.met ? 'met' : 'MISSED',
    ]),
  ];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const right = new Set([1, 3, 4]);
  const render = (l: string[]) =>
    l
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [render(lines[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(1).map(render)].join('\n');
}

async function main(): Promise<void> {
  for (const s of SELECTED)
    if (!SCENARIOS.includes(s)) throw new Error(`BENCH_ENGINE: unknown scenario ${s} (use ${SCENARIOS.join(', ')})`);
  const loadBefore = loadavg();
  const rows: Row[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  const drainNote = (name: string, r: DrainResult | null) => {
    if (r)
      notes.push(
        `  ${name}: ${r.seconds.toFixed(2)} s from the first job (${fmtRate(r)}); ${r.secondsFromStart.toFixed(2)} s from the start call (${Math.round(r.jobs / r.secondsFromStart).toLocaleString('en')} jobs/s)`,
      );
  };

  if (SELECTED.includes('drain')) {
    const jt = await attempt(
      'Jobtrail PostgreSQL drain',
      () => jobtrailDrain('postgres', PG_URL, DRAIN_JOBS, CONCURRENCY, DRAIN_TIMEOUT_MS),
      failures,
    );
    const batched = await attempt(
      'graphile-worker batched drain',
      () => graphileDrain(PG_URL, DRAIN_JOBS, 'batched', CONCURRENCY, DRAIN_TIMEOUT_MS),
      failures,
    );
    const plain = await attempt(
      'graphile-worker default drain',
      () => graphileDrain(PG_URL, DRAIN_JOBS, 'default', CONCURRENCY, DRAIN_TIMEOUT_MS),
      failures,
    );
    const boss = await attempt('pg-boss drain', () => pgBossDrain(PG_URL, DRAIN_JOBS, DRAIN_TIMEOUT_MS), failures);
    // The floors write what Jobtrail wrote (its event template), so they need its run.
    const floor = (schema: FloorSchema) =>
      jt
        ? attempt(
            `PostgreSQL floor (${schema})`,
            () =>
              floorDrain(PG_URL, {
                schema,
                jobs: DRAIN_JOBS,
                batch: CONCURRENCY,
                connections: FLOOR_CONNECTIONS,
                template: jt.template,
                leaseMs: LEASE_MS,
                deadlineMs: DEADLINE_MS,
              }),
            failures,
          )
        : Promise.resolve(null);
    const wide = await floor('wide');
    const narrow = await floor('narrow');
    const scenario = `PostgreSQL drain ${DRAIN_JOBS.toLocaleString('en')}`;
    const floorLabel = (schema: FloorSchema) =>
      `floor: bare loops, same rows, ${schema} schema (${FLOOR_CONNECTIONS} conn.)`;
    rows.push(
      throughputRow(scenario, jt, `graphile-worker batched (c=${CONCURRENCY}, localQueue 500)`, batched, 1),
      throughputRow(scenario, jt, 'graphile-worker default (c=1)', plain, 1),
      throughputRow(scenario, jt, 'pg-boss (batchSize 100)', boss, 1),
      informationRow(throughputRow(scenario, jt, floorLabel('wide'), wide, 1)),
      informationRow(throughputRow(floorLabel('wide'), wide, 'graphile-worker batched', batched, 1)),
      informationRow(throughputRow(floorLabel('narrow'), narrow, 'graphile-worker batched', batched, 1)),
    );
    notes.push('PostgreSQL drain timing:');
    drainNote('Jobtrail', jt);
    drainNote('graphile-worker batched', batched);
    drainNote('graphile-worker default', plain);
    drainNote('pg-boss', boss);
    drainNote('floor, wide schema', wide);
    drainNote('floor, narrow schema', narrow);
    notes.push(
      '  The floors are bare loops writing the rows Jobtrail writes (history included) in the fewest round trips:',
      '  the most any code could drain on that schema here. The narrow one adds a queue table of active jobs.',
    );
    if (jt)
      notes.push(`  Jobtrail recorded ${(jt as JobtrailDrainResult).eventsPerJob.toFixed(1)} job_events rows per job`);
    const writes = (jt as JobtrailDrainResult).writes;
    if (writes) {
      const perTable = Object.entries(writes.tables)
        .map(
          ([t, w]) =>
            `${t} +${w.ins.toFixed(2)} ~${w.upd.toFixed(2)} (HOT ${w.hot.toFixed(2)}) -${w.del.toFixed(2)}, ${Math.round(w.heapBytes)} B heap + ${Math.round(w.indexBytes)} B indexes`,
        )
        .join('; ');
      notes.push(
        `  per job: ${writes.commits.toFixed(3)} commits; rows inserted (+), updated (~) and deleted (-), and bytes grown: ${perTable}`,
      );
    }
  }

  if (SELECTED.includes('latency')) {
    const jt = await attempt(
      'Jobtrail pickup latency',
      () => jobtrailLatency('postgres', PG_URL, LATENCY_JOBS, LATENCY_WARMUP, SPACING_MS, CONCURRENCY),
      failures,
    );
    const gw = await attempt(
      'graphile-worker pickup latency',
      () => graphileLatency(PG_URL, LATENCY_JOBS, LATENCY_WARMUP, SPACING_MS),
      failures,
    );
    const floor = (shape: FloorClaimShape) =>
      attempt(
        `PostgreSQL floor pickup latency (claim: ${shape})`,
        () => floorLatency(shape, PG_URL, LATENCY_JOBS, LATENCY_WARMUP, SPACING_MS, LEASE_MS, DEADLINE_MS),
        failures,
      );
    const oneStatement = await floor('one statement');
    const readThenWrite = await floor('read, then write');
    const floorLabel = (shape: FloorClaimShape) => `floor: bare, same rows, claim ${shape}`;
    rows.push(
      ...latencyRows('pickup create→processing', jt?.processing ?? null, gw),
      ...latencyRows('pickup create→handler', jt?.started ?? null, gw),
      ...latencyRows(
        'pickup create→processing',
        jt?.processing ?? null,
        readThenWrite,
        floorLabel('read, then write'),
      ).map(informationRow),
      ...latencyRows(floorLabel('one statement'), oneStatement, gw).map(informationRow),
      ...latencyRows(floorLabel('read, then write'), readThenWrite, gw).map(informationRow),
    );
    if (jt)
      notes.push(
        `Pickup latency: Jobtrail's startAction itself took ${fmtMs(jt.create.medianMs)} median, ${fmtMs(jt.create.p99Ms)} p99 of it (graphile's addJob is one statement).`,
      );
  }

  if (SELECTED.includes('sqlite')) {
    // Alternated pairs, each bare loop writing what its Jobtrail run wrote: the machine's load
    // drifts over a minute, and a ratio is only as good as the two runs being under the same load.
    const pairs: Array<{ jt: JobtrailDrainResult; bare: DrainResult & { eventsPerJob: number } }> = [];
    for (let pair = 1; pair <= SQLITE_PAIRS; pair++) {
      const jt = await attempt(
        `Jobtrail SQLite drain (pair ${pair})`,
        () => jobtrailDrain('sqlite', PG_URL, DRAIN_JOBS, CONCURRENCY, DRAIN_TIMEOUT_MS),
        failures,
      );
      if (!jt) break;
      const bare = await attempt(
        `bare better-sqlite3 drain (pair ${pair})`,
        async () => {
          log(`bare better-sqlite3: seeding ${DRAIN_JOBS.toLocaleString('en')} jobs`);
          const seeded = await seededSqliteScratch(DRAIN_JOBS);
          try {
            log('bare better-sqlite3: draining');
            const r = bareSqliteDrain(seeded.file, DRAIN_JOBS, CONCURRENCY, jt.template, LEASE_MS, DEADLINE_MS);
            if (Math.abs(r.eventsPerJob - jt.eventsPerJob) > 1e-9)
              throw new Error(`the bare loop wrote ${r.eventsPerJob} events per job, Jobtrail ${jt.eventsPerJob}`);
            return r;
          } finally {
            seeded.cleanup();
          }
        },
        failures,
      );
      if (!bare) break;
      pairs.push({ jt, bare });
    }
    const ratioOf = (p: (typeof pairs)[number]) => jobsPerSecond(p.jt) / jobsPerSecond(p.bare);
    const sorted = [...pairs].sort((a, b) => ratioOf(a) - ratioOf(b));
    const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
    rows.push(
      throughputRow(
        `SQLite drain ${DRAIN_JOBS.toLocaleString('en')}`,
        median?.jt ?? null,
        `bare better-sqlite3 loop (batch ${CONCURRENCY})`,
        median?.bare ?? null,
        0.5,
      ),
    );
    notes.push(
      `SQLite drain timing (the median of ${pairs.length} alternated pairs in the table; every pair's ratio: ${pairs
        .map((p) => `${ratioOf(p).toFixed(2)}x`)
        .join(', ')}):`,
    );
    drainNote('Jobtrail', median?.jt ?? null);
    if (median)
      notes.push(
        `  bare loop: ${median.bare.seconds.toFixed(2)} s; ${median.bare.eventsPerJob.toFixed(1)} job_events rows per job, as Jobtrail`,
      );
  }

  if (SELECTED.includes('webhooks')) {
    const results: WebhookBenchResult[] = [];
    for (const kind of ['postgres', 'sqlite'] as const) {
      const r = await attempt(
        `webhooks on ${kind}`,
        () => webhookBench(kind, PG_URL, WEBHOOK_JOBS, WEBHOOK_RATE, WEBHOOK_ENDPOINT_CONCURRENCY, DRAIN_TIMEOUT_MS),
        failures,
      );
      if (r) results.push(r);
    }
    if (results.length > 0)
      notes.push(
        `Webhooks: ${WEBHOOK_JOBS.toLocaleString('en')} job changes at ${WEBHOOK_RATE.toLocaleString('en')}/s, one subscription on 127.0.0.1 (endpoint cap ${WEBHOOK_ENDPOINT_CONCURRENCY}), every signature verified:`,
        ...results.map(
          (r) =>
            `  ${r.kind}: changes committed at ${Math.round(r.changesPerSecond).toLocaleString('en')}/s, delivered at ${Math.round(r.pacedDeliveriesPerSecond).toLocaleString('en')}/s; lag commit → 2xx p50 ${fmtMs(r.lag.medianMs)}, p99 ${fmtMs(r.lag.p99Ms)}; a backlog of ${r.jobs.toLocaleString('en')} sent at ${Math.round(r.backlogDeliveriesPerSecond).toLocaleString('en')}/s`,
        ),
      );
  }

  const loadAfter = loadavg();
  const out = [
    '',
    `Execution engine benchmark: ${DRAIN_JOBS.toLocaleString('en')} jobs per drain, Jobtrail concurrency ${CONCURRENCY}, ${LATENCY_JOBS} latency samples ${SPACING_MS} ms apart`,
    `Load average (1 min) before ${loadBefore[0]?.toFixed(2)}, after ${loadAfter[0]?.toFixed(2)}; ratio = Jobtrail / peer (throughput: higher is better; latency: lower is better)`,
    '',
    table(rows),
    '',
    ...notes,
    ...(failures.length > 0 ? ['', 'Failed:', ...failures.map((f) => `  ${f}`)] : []),
    '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (failures.length > 0) process.exitCode = 1;
}

main().then(
  // Pools or timers a library left behind must not keep the run alive.
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`engine bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
