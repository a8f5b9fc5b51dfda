import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import fastifyStatic from '@fastify/static';
import { fastify, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AppModule, type AppModuleOptions } from './app.module.js';
import { jsonBodyParser, requestId, securityHeaders, unparsedBodyCheck } from './common/http-hooks.js';
import { applyServerTimeouts } from './common/http-server.js';
import { sendProblem, toProblem } from './common/problem-response.js';
import type { AppConfig } from './config/app-config.js';
import { DemoSeeder, type StartupKeys } from './demo/demo-seeder.js';
import { PinoNestLogger, requestLogger, requestPath } from './logging/logger.js';
import { buildOpenApiDocument } from './openapi/openapi-document.js';

/** The built dashboard next to this app in the monorepo. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/dist', import.meta.url));

/**
 * A configured, initialised (not yet listening) HTTP process of Jobtrail (role `api` or `all`),
 * plus what start-up created.
 *
 * Nest runs on Fastify, not Express: on a history page Express's router and its per-request
 * request/response objects cost about 190 µs of CPU, Fastify's none measurable (issue 13,
 * `framework-bench`). Everything Express middleware did is a Fastify hook here: security headers,
 * the request id and log line, CORS, the JSON body parser, the static dashboard.
 */
export async function createApp(
  config: AppConfig,
  logger: Logger,
  options: AppModuleOptions = {},
): Promise<{ app: NestFastifyApplication; startup: StartupKeys }> {
  const instance = fastify({
    // Logged by `requestLogger`, with Jobtrail's own logger; Fastify's would make a child per request.
    logger: false,
    genReqId: requestId,
    bodyLimit: config.bodyLimitBytes,
    // A request already on an open connection while the app closes is answered as any other (the
    // routes say 503 problem+json themselves where it matters), not with Fastify's own JSON 503.
    return503OnClosing: false,
    // As Express: `/api/jobs/` is `/api/jobs`. A path parameter may be as long as the URL (Node
    // bounds that): find-my-way's default of 100 answered a long id with a bare 414 before any
    // key or field was checked; the routes' own validation says which field is wrong.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 16 * 1024 },
    // A URL the router cannot read (bad percent-encoding) is answered before any hook runs: the
    // hooks' headers and log line, then problem+json like every other error.
    frameworkErrors: (error: Error, req: FastifyRequest, reply: FastifyReply) => {
      const next = () => undefined;
      logRequest(req, reply, next);
      securityHeaders(req, reply, next);
      const { problem, headers } = toProblem(error, requestPath(req), logger);
      sendProblem(reply, problem, headers);
    },
  });
  // First of all hooks (Nest's adapter adds CORS and its own after these): every answer, a CORS
  // preflight included, is logged and carries the security headers.
  const logRequest = requestLogger(logger);
  instance.addHook('onRequest', logRequest);
  instance.addHook('onRequest', securityHeaders);
  // Every body goes through the one JSON parser, whatever its declared type (it answers 415 itself).
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', { parseAs: 'buffer' }, jsonBodyParser(config.bodyLimitBytes));
  instance.addHook('preValidation', unparsedBodyCheck(config.bodyLimitBytes));
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRole(config, logger, options),
    new FastifyAdapter(instance as never),
    { bodyParser: false, logger: new PinoNestLogger(logger), abortOnError: false },
  );
  applyServerTimeouts(app.getHttpServer(), config.http);
  app.setGlobalPrefix('api');
  // Browsers may call the API only from the configured origins (none by default).
  app.enableCors({
    origin: (origin: string | undefined, cb: (err: Error | null, allow: string | false) => void) =>
      cb(null, origin !== undefined && config.corsOrigins.includes(origin) ? origin : false),
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID'],
    exposedHeaders: [
      'Link',
      'Location',
      'Retry-After',
      'X-Request-Id',
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'Idempotent-Replayed',
    ],
    maxAge: 600,
  });
  SwaggerModule.setup('api/docs', app, buildOpenApiDocument() as never, { jsonDocumentUrl: 'api/docs/openapi.json' });
  await serveDashboard(instance, config, logger);
  // Signals are handled by main.ts (close, then exit 0), not by Nest's hooks, which re-raise the
  // signal after closing and so end the process with 143 instead of 0.
  await app.init();
  // Routes and plugins are loaded now, not at the first request (and supertest may use the server).
  await instance.ready();
  const startup = await app.get(DemoSeeder).run(config);
  return { app, startup };
}

/**
 * The dashboard's Content-Security-Policy: scripts, styles and API calls from this origin only, no
 * inline script (the Vite build has none), no plugins, no framing, no foreign form targets.
 * `data:` images cover the SVG/emoji fallbacks browsers may inline.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * In the all-in-one process the built dashboard is served at `/`, with deep links falling back to
 * its `index.html`. Its files are routes of their own (found once, at start-up), so an API request
 * never looks for a file on disk; a GET that matches nothing outside `/api` gets the index.
 */
async function serveDashboard(fastify: FastifyInstance, config: AppConfig, logger: Logger): Promise<void> {
  const dir = config.dashboardDir ?? DEFAULT_DASHBOARD_DIR;
  if (!existsSync(`${dir}/index.html`)) {
    logger.info({ dir }, 'no built dashboard found; serving the API only');
    return;
  }
  await fastify.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    wildcard: false,
    index: false,
    dotfiles: 'ignore',
    maxAge: '1h',
    setHeaders: (reply, path) => {
      if (path.endsWith('.html')) reply.header('Content-Security-Policy', DASHBOARD_CSP);
    },
  });
  fastify.get('/*', (req, reply) => {
    if (req.url === '/api' || req.url.startsWith('/api/') || req.url.startsWith('/api?')) return reply.callNotFound();
    reply.header('Cache-Control', 'no-cache');
    reply.header('Content-Security-Policy', DASHBOARD_CSP);
    return reply.sendFile('index.html', { maxAge: 0, cacheControl: false });
  });
}

/** A worker process (role `worker`): the engine without HTTP. */
export async function createWorkerProcess(
  config: AppConfig,
  logger: Logger,
  options: AppModuleOptions = {},
): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(AppModule.forRole(config, logger, options), {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
  });
  await app.init();
  return app;
}
