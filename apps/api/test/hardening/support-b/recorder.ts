/** One HTTP exchange as the load saw it. */
export interface Exchange {
  readonly method: string;
  /** The route with ids replaced by `:id` (for grouping). */
  readonly route: string;
  readonly path: string;
  readonly startedAt: number;
  readonly endedAt: number;
  /** 0 when no response came (socket error, timeout). */
  readonly status: number;
  readonly contentType: string;
  // Bodies are read field by field, like supertest's `res.body`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  readonly text: string;
  readonly headers: Headers | null;
  /** The network error, when there was no response. */
  readonly error: string | null;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** A fetch-based client that records every exchange (time window, status, body). */
export class RecordingClient {
  readonly exchanges: Exchange[] = [];

  constructor(
    private readonly base: string,
    private readonly key: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async call(
    method: string,
    path: string,
    opts: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Exchange> {
    const startedAt = Date.now();
    const headers: Record<string, string> = { Authorization: `Bearer ${this.key}`, ...opts.headers };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    let ex: Exchange;
    try {
      const res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      let body: unknown = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = null;
      }
      ex = {
        method,
        route: path.split('?')[0]!.replace(UUID, ':id'),
        path,
        startedAt,
        endedAt: Date.now(),
        status: res.status,
        contentType: res.headers.get('content-type') ?? '',
        body,
        text,
        headers: res.headers,
        error: null,
      };
    } catch (err) {
      ex = {
        method,
        route: path.split('?')[0]!.replace(UUID, ':id'),
        path,
        startedAt,
        endedAt: Date.now(),
        status: 0,
        contentType: '',
        body: null,
        text: '',
        headers: null,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      };
    }
    this.exchanges.push(ex);
    return ex;
  }
}

/** A one-line description of an exchange, for failure messages. */
export function describeExchange(e: Exchange, t0 = 0): string {
  const at = `${((e.startedAt - t0) / 1000).toFixed(2)}s..${((e.endedAt - t0) / 1000).toFixed(2)}s`;
  return `${e.method} ${e.route} -> ${e.status || e.error} at ${at}${e.status >= 400 ? ` ${e.text.slice(0, 200)}` : ''}`;
}

/** Counts of exchanges by status. */
export function byStatus(exchanges: readonly Exchange[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of exchanges) out[String(e.status)] = (out[String(e.status)] ?? 0) + 1;
  return out;
}
