/**
 * One autocannon run, in a process of its own so the load generator does not share the event
 * loop of the server it measures. Input: the options as JSON in argv[2]; output: a JSON summary.
 */
import autocannon from 'autocannon';

export interface LoadOptions {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
  readonly connections: number;
  readonly durationSeconds: number;
}

export interface LoadResult {
  /** Mean requests per second over the run. */
  readonly rps: number;
  readonly total: number;
  readonly p50: number;
  readonly p99: number;
  /** Responses that were not 2xx, plus socket errors and timeouts. */
  readonly failures: number;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  const result = await autocannon({
    url: opts.url,
    method: opts.method,
    headers: opts.headers,
    connections: opts.connections,
    duration: opts.durationSeconds,
  });
  const out: LoadResult = {
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
