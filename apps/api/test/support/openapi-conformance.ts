// Every response an integration suite produces, checked against the OpenAPI document the app
// serves: the status is documented for the operation, the content type too, a JSON body is valid
// against the documented schema, and the headers clients act on (Location, Link, RateLimit-*,
// Retry-After, Idempotent-Replayed) are there when the document requires them and absent when it
// does not mention them. `test-app.ts` installs the recorder on every app it starts and fails the
// suite (in `close()`) with the list of violations, so every integration test is also a contract test.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import AjvModule from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';

// ajv and ajv-formats are CommonJS: their default export is the module object under NodeNext typing.
const Ajv2020 = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as typeof AjvModule.default;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as typeof addFormatsModule.default;

/** One response as the client received it. */
export interface RecordedResponse {
  readonly method: string;
  /** The request URL as sent (path and query). */
  readonly url: string;
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body as written, or null when it is not kept (event streams, bodies over the cap). */
  readonly body: Buffer | null;
}

/** Headers whose presence the document decides: clients follow, page, back off or dedupe on them. */
export const CHECKED_HEADERS = [
  'location',
  'link',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'ratelimit-policy',
  'retry-after',
  'idempotent-replayed',
] as const;

const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Records every response `server` sends: wraps its `request` listeners (Fastify's) so that each
 * response's status, headers and body are captured when it closes, whatever answered it (a route,
 * a guard, the body parser, the problem filter). Headers are read both from the response and from
 * `writeHead`'s argument: Fastify hands its headers to `writeHead`, which does not store them.
 */
export function recordResponses(server: Server): RecordedResponse[] {
  const records: RecordedResponse[] = [];
  const listeners = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let keep = true;
    const take = (chunk: unknown, encoding: unknown) => {
      if (!keep || chunk === undefined || chunk === null || typeof chunk === 'function') return;
      const buf = Buffer.isBuffer(chunk)
        ? chunk
        : typeof chunk === 'string'
          ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
          : Buffer.from(chunk as Uint8Array);
      size += buf.length;
      // Event streams never end by themselves and are checked by status and type only.
      if (size > MAX_BODY_BYTES || /event-stream/i.test(String(res.getHeader('content-type') ?? ''))) {
        keep = false;
        chunks.length = 0;
        return;
      }
      chunks.push(buf);
    };
    const given: Record<string, string> = {};
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
    res.writeHead = ((...args: unknown[]) => {
      const headers = args.find((a) => typeof a === 'object' && a !== null && !Array.isArray(a)) as
        Record<string, unknown> | undefined;
      for (const [name, value] of Object.entries(headers ?? {}))
        if (value !== undefined) given[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
      return writeHead(...args);
    }) as ServerResponse['writeHead'];
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.write = ((...args: unknown[]) => {
      take(args[0], args[1]);
      return write(...args);
    }) as ServerResponse['write'];
    res.end = ((...args: unknown[]) => {
      take(args[0], args[1]);
      return end(...args);
    }) as ServerResponse['end'];
    res.once('close', () => {
      // A client gone before any answer got nothing to check.
      if (!res.headersSent) return;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.getHeaders()))
        if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
      Object.assign(headers, given);
      records.push({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        status: res.statusCode,
        headers,
        body: keep ? Buffer.concat(chunks) : null,
      });
    });
    for (const l of listeners) l.call(server, req, res);
  });
  return records;
}

interface HeaderSpec {
  required?: boolean;
  schema?: unknown;
}
interface MediaSpec {
  schema?: unknown;
}
interface ResponseSpec {
  headers?: Record<string, HeaderSpec>;
  content?: Record<string, MediaSpec>;
}
interface OperationSpec {
  operationId?: string;
  responses: Record<string, ResponseSpec>;
}
interface Document {
  servers?: Array<{ url: string }>;
  paths: Record<string, Record<string, OperationSpec>>;
  components?: { schemas?: Record<string, unknown> };
}

const BASE = 'https://jobtrail.invalid/openapi.json';

/** `#/...` references resolved against the document added to ajv under {@link BASE}. */
function absoluteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(absoluteRefs);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node))
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `${BASE}${v}` : absoluteRefs(v);
  return out;
}

interface PathMatcher {
  readonly template: string;
  readonly regex: RegExp;
  /** Literal segments: `/jobs/stats` is preferred over `/jobs/{job_id}`. */
  readonly literals: number;
}

/** A document made ready to check responses against: path matchers and compiled body schemas. */
export class OpenApiConformance {
  private readonly ajv: InstanceType<typeof Ajv2020>;
  private readonly matchers: PathMatcher[];
  private readonly base: string;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly doc: Document) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: BASE, components: doc.components ?? {} });
    this.base = (doc.servers?.[0]?.url ?? '').replace(/\/$/, '');
    this.matchers = Object.keys(doc.paths).map((template) => {
      const segments = template.split('/').filter(Boolean);
      const pattern = segments.map((s) => (/^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^$()|[\]\\]/g, '\\$&')));
      return {
        template,
        regex: new RegExp(`^/${pattern.join('/')}/?$`),
        literals: segments.filter((s) => !s.startsWith('{')).length,
      };
    });
  }

  /** The documented path a request path falls under, or null (not part of the API: docs, dashboard). */
  route(url: string): string | null {
    const path = url.split('?')[0]!;
    if (!path.startsWith(`${this.base}/`)) return null;
    const rest = path.slice(this.base.length);
    let best: PathMatcher | null = null;
    for (const m of this.matchers) if (m.regex.test(rest) && (best === null || m.literals > best.literals)) best = m;
    return best?.template ?? null;
  }

  /** What is wrong with one response (empty when it conforms). */
  check(r: RecordedResponse): string[] {
    const template = this.route(r.url);
    const method = r.method.toLowerCase();
    // Undocumented paths and methods (the docs themselves, CORS preflights, 404s of unknown routes).
    if (template === null) return [];
    const op = this.doc.paths[template]![method];
    if (!op) return [];
    const where = `${r.method} ${r.url} (${op.operationId ?? template}) → ${r.status}`;
    const spec = op.responses[String(r.status)] ?? op.responses[`${String(r.status)[0]}XX`] ?? op.responses.default;
    if (!spec) return [`${where}: status ${r.status} is not documented (${Object.keys(op.responses).join(', ')})`];
    const out: string[] = [];

    const documented = new Map(Object.entries(spec.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    for (const name of CHECKED_HEADERS)
      if (r.headers[name] !== undefined && !documented.has(name))
        out.push(`${where}: header ${name} is sent but not documented`);
    for (const [name, h] of documented) {
      const value = r.headers[name];
      if (value === undefined) {
        if (h.required) out.push(`${where}: required header ${name} is missing`);
      } else if (
        h.schema !== undefined &&
        !this.validator(`header ${name} ${JSON.stringify(h.schema)}`, h.schema)(value)
      ) {
        out.push(`${where}: header ${name}: ${JSON.stringify(value)} does not match ${JSON.stringify(h.schema)}`);
      }
    }

    const type = (r.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const content = spec.content ?? {};
    const types = Object.keys(content);
    if (types.length === 0) {
      if (r.body !== null && r.body.length > 0) out.push(`${where}: a body is sent (${type}) but none is documented`);
      return out;
    }
    const media = types.find((t) => t.toLowerCase() === type);
    if (media === undefined) {
      out.push(`${where}: content type "${type}" is not documented (${types.join(', ')})`);
      return out;
    }
    if (!/[/+]json$/.test(type) || r.body === null || content[media]!.schema === undefined) return out;
    let body: unknown;
    try {
      body = JSON.parse(r.body.toString('utf8'));
    } catch {
      out.push(`${where}: the ${type} body is not JSON`);
      return out;
    }
    const validate = this.validator(`${template} ${method} ${r.status} ${media}`, content[media]!.schema);
    if (!validate(body)) {
      const errors = (validate.errors ?? [])
        .slice(0, 5)
        .map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
      out.push(`${where}: body does not match the schema: ${errors.join('; ')}`);
    }
    return out;
  }

  /** The compiled validator of a schema of the document (cached under `key`). */
  private validator(key: string, schema: unknown): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(absoluteRefs(schema) as object);
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** Every violation of `records`, one line each. */
  checkAll(records: readonly RecordedResponse[]): string[] {
    return records.flatMap((r) => this.check(r));
  }
}

/** Reads the document a running app serves (`/api/docs/openapi.json`). */
export async function fetchServedDocument(baseUrl: string): Promise<Document> {
  const res = await fetch(`${baseUrl}/api/docs/openapi.json`);
  if (!res.ok) throw new Error(`GET /api/docs/openapi.json answered ${res.status}`);
  return (await res.json()) as Document;
}

const compiled = new Map<string, OpenApiConformance>();

/** One checker per distinct document text (every app of a suite serves the same one). */
export function conformanceFor(doc: Document): OpenApiConformance {
  const text = JSON.stringify(doc);
  let c = compiled.get(text);
  if (!c) {
    c = new OpenApiConformance(doc);
    compiled.set(text, c);
  }
  return c;
}
