/**
 * `pnpm bench`: what the HTTP stack alone costs a history request. The same handler (an API key
 * looked up, a page of 51 stored rows made into 50 summaries, the `Link` header and the headers
 * Jobtrail sets) served three ways, each in a process of its own: bare `node:http`, Nest on Express
 * (Jobtrail's stack until issue 13), Nest on Fastify (`@nestjs/platform-fastify`, Jobtrail's since).
 * The Nest apps have what Jobtrail's has on this route: two global guards (the key, the rate
 * limit's headers), a global interceptor, a validating pipe on the path and on the query, and
 * other routes beside it. No database: the key and the rows come from memory, so that only the
 * stack differs (the history bench measures Jobtrail itself against the same SQL).
 *
 * Environment: BENCH_DURATION (seconds a run, default 3), BENCH_ROUNDS (runs a server, alternated,
 * default 6; medians count), BENCH_CONNECTIONS (default 20).
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  BadRequestException,
  Controller,
  Get,
  Injectable,
  Module,
  Param,
  Query,
  Res,
  SetMetadata,
  UnauthorizedException,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, NestFactory, Reflector } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { map, type Observable } from 'rxjs';
import { summary, type Row } from './bare-server.js';
import { load } from './load-client.js';

type Stack = 'bare' | 'express' | 'fastify';
const STACKS: readonly Stack[] = ['bare', 'express', 'fastify'];

const KEY = 'jt_bench_framework_key';
const CONNECTION = '01a1f85a-af41-7d7a-b85d-0e4e8197e9ec';
const PATH = `/api/connections/${CONNECTION}/jobs`;
const KEYS = new Map([[createHash('sha256').update(KEY).digest('hex'), { tenantId: 't1', role: 'viewer' }]]);

/** 51 stored rows as a driver returns them (times as epoch ms, the error as JSON). */
const ROWS = Array.from({ length: 51 }, (_, i) => ({
  id: `01a22bda-56bc-7000-abad-c1a7d676c${String(i).padStart(3, '0')}`,
  connection_id: CONNECTION,
  action: i % 5 === 4 ? 'purge' : 'refresh',
  status: i % 3 === 0 ? 'failed' : 'success',
  created_at: 1_796_032_059_068 - i * 1_000,
  updated_at: 1_796_032_062_068 - i * 1_000,
  started_at: 1_796_032_059_568 - i * 1_000,
  finished_at: 1_796_032_062_068 - i * 1_000,
  attempt: 1,
  max_attempts: 3,
  run_at: 1_796_032_059_068 - i * 1_000,
  error:
    i % 3 === 0
      ? '{"code":"institution-unavailable","title":"The bank did not answer","detail":"timeout","retryable":true}'
      : null,
  retry_of: null,
  cancel_requested_at: null,
  version: 3,
}));
/** The database's answers, asynchronous as a driver's are. */
const findKey = async (authorization: string | undefined) => {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  return token ? KEYS.get(createHash('sha256').update(token, 'utf8').digest('hex')) : undefined;
};
const findPage = async (_connectionId: string, _tenantId: string, limit: number) => ROWS.slice(0, limit + 1);

/** The headers Jobtrail sets on every answer (security, request id, rate limit). */
const FIXED_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'RateLimit-Limit': '6000',
};
const nextLink = (last: Row, limit: number) =>
  `<${PATH}?limit=${limit}&cursor=${Buffer.from(JSON.stringify([last.created_at, last.id])).toString('base64url')}>; rel="next"`;
const UUID = /^[0-9a-f-]{36}$/;

function parseLimit(raw: unknown): number {
  const limit = raw === undefined ? 50 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new BadRequestException('limit');
  return limit;
}

async function serveBare(): Promise<number> {
  const route = /^\/api\/connections\/([0-9a-f-]{36})\/jobs$/;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const m = route.exec(url.pathname);
      const key = await findKey(req.headers.authorization);
      if (!m || !key) return void res.writeHead(m ? 401 : 404).end();
      const limit = parseLimit(url.searchParams.get('limit') ?? undefined);
      const rows = await findPage(m[1]!, key.tenantId, limit);
      const items = rows.slice(0, limit);
      const body = JSON.stringify(items.map(summary));
      res.writeHead(200, {
        ...FIXED_HEADERS,
        'X-Request-Id': randomUUID(),
        'RateLimit-Remaining': '5999',
        Link: nextLink(items[items.length - 1]!, limit),
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** What both Nest adapters' responses offer for a header. */
interface HeaderTarget {
  header(name: string, value: string): unknown;
}

const ROLE = 'bench:role';

@Injectable()
class KeyGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}
  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const http = ctx.switchToHttp();
    const req = http.getRequest<{ headers: Record<string, string | undefined>; auth?: unknown }>();
    const key = await findKey(req.headers.authorization);
    if (!key) throw new UnauthorizedException();
    req.auth = key;
    this.reflector.getAllAndOverride<string>(ROLE, [ctx.getHandler(), ctx.getClass()]);
    const res = http.getResponse<HeaderTarget>();
    for (const [name, value] of Object.entries(FIXED_HEADERS)) res.header(name, value);
    res.header('X-Request-Id', randomUUID());
    return true;
  }
}

@Injectable()
class RateHeadersGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    ctx.switchToHttp().getResponse<HeaderTarget>().header('RateLimit-Remaining', '5999');
    return true;
  }
}

@Injectable()
class PassThroughInterceptor implements NestInterceptor {
  intercept(_ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((body: unknown) => body));
  }
}

class PathPipe implements PipeTransform<{ connection_id: string }> {
  transform(value: { connection_id: string }) {
    if (!UUID.test(value.connection_id)) throw new BadRequestException('connection_id');
    return value;
  }
}

class QueryPipe implements PipeTransform<{ limit?: string }, { limit: number }> {
  transform(value: { limit?: string }) {
    return { limit: parseLimit(value.limit) };
  }
}

@Controller('connections/:connection_id')
class HistoryController {
  @Get('jobs')
  @SetMetadata(ROLE, 'viewer')
  async history(
    @Param(new PathPipe()) params: { connection_id: string },
    @Query(new QueryPipe()) query: { limit: number },
    @Res({ passthrough: true }) res: HeaderTarget,
  ) {
    const rows = await findPage(params.connection_id, 't1', query.limit);
    const items = rows.slice(0, query.limit);
    res.header('Link', nextLink(items[items.length - 1]!, query.limit));
    return items.map(summary);
  }
}

/** Routes registered before the measured one, as an application has: the router walks past them. */
@Controller('other')
class OtherRoutesController {
  @Get('a/:id') a() {
    return {};
  }
  @Get('b/:id') b() {
    return {};
  }
  @Get('c/:id') c() {
    return {};
  }
  @Get('d/:id') d() {
    return {};
  }
  @Get('e/:id') e() {
    return {};
  }
  @Get('f/:id') f() {
    return {};
  }
}

@Module({
  controllers: [OtherRoutesController, HistoryController],
  providers: [
    { provide: APP_GUARD, useClass: KeyGuard },
    { provide: APP_GUARD, useClass: RateHeadersGuard },
    { provide: APP_INTERCEPTOR, useClass: PassThroughInterceptor },
  ],
})
class BenchModule {}

async function serveNest(stack: 'express' | 'fastify'): Promise<number> {
  const adapter = stack === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = await NestFactory.create(BenchModule, adapter, { logger: false });
  app.setGlobalPrefix('api');
  await app.listen(0, '127.0.0.1');
  return (app.getHttpServer().address() as AddressInfo).port;
}

/** A server process: listens, says its port, answers `cpu` with its CPU time (µs, user + system). */
async function serve(stack: Stack): Promise<void> {
  const port = stack === 'bare' ? await serveBare() : await serveNest(stack);
  process.on('message', (msg) => {
    if (msg !== 'cpu') return;
    const { user, system } = process.cpuUsage();
    process.send!({ cpu: user + system });
  });
  process.send!({ port });
}

interface Server {
  readonly stack: Stack;
  readonly child: ChildProcess;
  readonly port: number;
  readonly cpu: number[];
  readonly rps: number[];
}

function start(stack: Stack): Promise<Server> {
  const child = fork(fileURLToPath(import.meta.url), ['serve', stack], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (msg: { port: number }) => resolve({ stack, child, port: msg.port, cpu: [], rps: [] }));
  });
}

function cpuOf(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.child.once('message', (msg: { cpu: number }) => resolve(msg.cpu));
    server.child.send('cpu');
  });
}

async function measure(server: Server, durationSeconds: number, connections: number): Promise<void> {
  const before = await cpuOf(server);
  const result = await load({
    url: `http://127.0.0.1:${server.port}${PATH}?limit=50`,
    method: 'GET',
    headers: { Authorization: `Bearer ${KEY}` },
    connections,
    durationSeconds,
  });
  if (result.failures > 0) throw new Error(`${server.stack}: ${result.failures} failed requests`);
  server.cpu.push(((await cpuOf(server)) - before) / Math.max(1, result.total));
  server.rps.push(result.rps);
}

const signed = (n: number) => (n >= 0 ? `+${n}` : `−${-n}`);
const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const env = process.env;
  const duration = Number(env.BENCH_DURATION ?? 3);
  const rounds = Number(env.BENCH_ROUNDS ?? 6);
  const connections = Number(env.BENCH_CONNECTIONS ?? 20);
  const servers: Server[] = [];
  try {
    for (const stack of STACKS) servers.push(await start(stack));
    // The same answer from each, then a warm-up.
    const bodies = await Promise.all(
      servers.map(async (s) =>
        (
          await fetch(`http://127.0.0.1:${s.port}${PATH}?limit=50`, { headers: { Authorization: `Bearer ${KEY}` } })
        ).text(),
      ),
    );
    if (new Set(bodies).size !== 1) throw new Error('the three servers do not answer the same body');
    for (const s of servers)
      await load({
        url: `http://127.0.0.1:${s.port}${PATH}?limit=50`,
        method: 'GET',
        headers: { Authorization: `Bearer ${KEY}` },
        connections,
        durationSeconds: 2,
      });
    for (let round = 0; round < rounds; round++)
      for (const s of round % 2 === 0 ? servers : [...servers].reverse()) await measure(s, duration, connections);
  } finally {
    for (const s of servers) s.child.kill();
  }
  const bare = servers[0]!;
  const lines = [
    '',
    `HTTP stack of a history request (no database): ${connections} connections, medians of ${rounds} × ${duration} s, alternated`,
    '',
    'stack                       req/s  CPU µs/req  CPU over bare  req/s ratio to bare',
    '--------------------------  -----  ----------  -------------  -------------------',
    ...servers.map((s) =>
      [
        { bare: 'bare node:http', express: 'Nest on Express', fastify: 'Nest on Fastify (Jobtrail)' }[s.stack].padEnd(
          26,
        ),
        Math.round(median(s.rps)).toLocaleString('en').padStart(5),
        Math.round(median(s.cpu)).toLocaleString('en').padStart(10),
        `${signed(Math.round(median(s.cpu) - median(bare.cpu)))} µs`.padStart(13),
        `${(median(s.rps) / median(bare.rps)).toFixed(2)}×`.padStart(19),
      ].join('  '),
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[2] === 'serve') await serve(process.argv[3] as Stack);
else await main();
