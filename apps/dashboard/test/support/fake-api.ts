import { jest } from '@jest/globals';

export interface FakeRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

export interface FakeReply {
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** A streamed body (Server-Sent Events) instead of JSON. */
  readonly stream?: FakeStream;
}

/** A response body the test writes to as it goes, read through `body.getReader()` like fetch's. */
export class FakeStream {
  private chunks: (Uint8Array | null)[] = [];
  private waiting: ((chunk: Uint8Array | null) => void) | null = null;

  write(text: string): void {
    this.deliver(new TextEncoder().encode(text));
  }

  end(): void {
    this.deliver(null);
  }

  private deliver(chunk: Uint8Array | null): void {
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve(chunk);
    } else this.chunks.push(chunk);
  }

  reader() {
    return {
      read: async (): Promise<{ done: boolean; value?: Uint8Array }> => {
        const chunk =
          this.chunks.length > 0
            ? this.chunks.shift()!
            : await new Promise<Uint8Array | null>((r) => (this.waiting = r));
        return chunk === null ? { done: true } : { done: false, value: chunk };
      },
      releaseLock: () => undefined,
    };
  }
}

type Handler = (req: FakeRequest) => FakeReply | Promise<FakeReply>;

/** A route: method and a path pattern (the query string is not part of the match). */
export type Route = readonly [method: string, path: RegExp | string, handler: Handler];

export const problem = (status: number, code: string, title: string, detail?: string): FakeReply => ({
  status,
  headers: { 'Content-Type': 'application/problem+json' },
  body: { type: `https://jobtrail.dev/problems/${code}`, title, status, code, ...(detail ? { detail } : {}) },
});

/**
 * Replaces `fetch` (absent from jsdom) with a router over fake API handlers: tests describe the
 * server, the dashboard's own client and parsing run for real. Unmatched calls answer 404.
 */
export interface FakeApi {
  readonly calls: FakeRequest[];
  /** Requests to a path, e.g. `requests('GET', /\/jobs$/)`. */
  readonly requests: (method: string, path: RegExp) => FakeRequest[];
}

export function installFakeApi(routes: readonly Route[]): FakeApi {
  const calls: FakeRequest[] = [];
  const fetchMock = jest.fn(async (input: string | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), 'http://localhost');
    const headers = Object.fromEntries(
      Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const req: FakeRequest = {
      method: init.method ?? 'GET',
      url,
      headers,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    calls.push(req);
    const route = routes.find(
      ([method, path]) =>
        method === req.method && (typeof path === 'string' ? path === url.pathname : path.test(url.pathname)),
    );
    const reply = route ? await route[2](req) : problem(404, 'route-not-found', 'No such route');
    const status = reply.status ?? 200;
    // A string body is sent as it is (a CSV export); anything else as JSON.
    const text =
      reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    return {
      ok: status >= 200 && status < 300,
      status,
      headers: new Headers({ 'Content-Type': 'application/json', ...(reply.headers ?? {}) }),
      body: reply.stream ? { getReader: () => reply.stream!.reader() } : null,
      text: async () => text,
      json: async () => JSON.parse(text) as unknown,
      blob: async () => new Blob([text]),
    } as unknown as Response;
  });
  Object.assign(globalThis, { fetch: fetchMock });
  return {
    calls,
    requests: (method: string, path: RegExp) => calls.filter((c) => c.method === method && path.test(c.url.pathname)),
  };
}
