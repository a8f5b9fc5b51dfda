import { parseProblem, type Problem } from '@jobtrail/domain';
import { nextLinkOf } from './link-header.js';

/**
 * What the client needs from a wire schema: zod's `safeParse`. Typed structurally so the dashboard
 * does not depend on zod itself, only on the domain package's schemas.
 */
export interface Validator<T> {
  safeParse(
    input: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** Every failed call ends up as one of these, carrying the server's problem+json (or one made up for it). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly problem: Problem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
  }
  get status(): number {
    return this.problem.status;
  }
  get code(): string {
    return this.problem.code;
  }
}

/** One page of a list endpoint: the rows, and the path of the next page from the `Link` header. */
export interface Page<T> {
  readonly items: T[];
  readonly next: string | null;
}

export interface RequestOptions<T> {
  readonly method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly body?: unknown;
  readonly schema?: Validator<T>;
  readonly signal?: AbortSignal;
  /** More request headers, e.g. `Idempotency-Key`. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ApiResponse<T> {
  readonly data: T;
  readonly status: number;
  readonly next: string | null;
}

export const API_BASE = '/api';

/**
 * The one fetch wrapper: adds the API key, sends and reads JSON, validates answers against the
 * wire schemas and turns every failure into an `ApiError` parsed by the domain's `parseProblem`.
 */
export class ApiClient {
  constructor(
    readonly key: string,
    /** Called on any 401 so the session can end: the key was revoked or mistyped. */
    private readonly onUnauthorized?: () => void,
    readonly base: string = API_BASE,
  ) {}

  /** `path` is relative to the API base (`/connections`), or a `Link` target that already includes it. */
  url(path: string): string {
    return path.startsWith(`${this.base}/`) ? path : `${this.base}${path}`;
  }

  async request<T>(path: string, options: RequestOptions<T> = {}): Promise<ApiResponse<T>> {
    const url = this.url(path);
    const headers: Record<string, string> = {
      ...options.headers,
      Authorization: `Bearer ${this.key}`,
      Accept: 'application/json',
    };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method: options.method ?? 'GET',
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
      });
    } catch (err) {
      if (isAbort(err)) throw err;
      throw new ApiError({
        type: 'about:blank',
        title: 'Cannot reach the Jobtrail server',
        status: 503,
        code: 'service-unavailable',
        detail: 'Check your network connection; the request will work again once the server answers.',
      });
    }
    const body = await readBody(res);
    if (!res.ok) {
      if (res.status === 401) this.onUnauthorized?.();
      throw new ApiError(parseProblem(res.status, body));
    }
    return {
      data: validate(options.schema, body, res.status, url),
      status: res.status,
      next: nextLinkOf(res.headers.get('Link'), url),
    };
  }

  async get<T>(path: string, schema: Validator<T>, signal?: AbortSignal): Promise<T> {
    return (await this.request(path, { schema, signal })).data;
  }

  /** A non-JSON answer (a CSV export) as a blob; failures are problems like any other answer's. */
  async blob(path: string, accept: string): Promise<Blob> {
    let res: Response;
    try {
      res = await fetch(this.url(path), { headers: { Authorization: `Bearer ${this.key}`, Accept: accept } });
    } catch {
      throw new ApiError({
        type: 'about:blank',
        title: 'Cannot reach the Jobtrail server',
        status: 503,
        code: 'service-unavailable',
      });
    }
    if (!res.ok) {
      if (res.status === 401) this.onUnauthorized?.();
      throw new ApiError(parseProblem(res.status, await readBody(res)));
    }
    return res.blob();
  }

  /** A page of a list endpoint (the body is a JSON array, the next page is in `Link`). */
  async page<T>(path: string, item: Validator<T>, signal?: AbortSignal): Promise<Page<T>> {
    const res = await this.request<unknown>(path, { signal });
    if (!Array.isArray(res.data)) throw contractError(res.status, res.data, 'a list was expected');
    const items = res.data.map((row) => validate(item, row, res.status, path));
    return { items, next: res.next };
  }
}

async function readBody(res: Response): Promise<unknown> {
  if (res.status === 204) return null;
  const text = await res.text();
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // e.g. an HTML error page from a proxy: parseProblem turns it into a generic problem.
    return text;
  }
}

function validate<T>(schema: Validator<T> | undefined, body: unknown, status: number, url: string): T {
  if (!schema) return body as T;
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  const where = first && first.path.length > 0 ? `${first.path.map(String).join('.')}: ` : '';
  throw contractError(status, body, `${url}: ${where}${first?.message ?? 'unexpected shape'}`);
}

/** The server answered 2xx with something the wire contract does not describe (version skew). */
function contractError(status: number, _body: unknown, detail: string): ApiError {
  return new ApiError({
    type: 'about:blank',
    title: 'Unexpected answer from the server',
    status: status >= 400 ? status : 502,
    code: 'internal-error',
    detail: `The answer does not match the wire contract (${detail}). Is the dashboard newer or older than the API?`,
  });
}

function isAbort(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}
