import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import express from 'express';
import type { Logger } from 'pino';
import { AppModule, type AppModuleOptions } from './app.module.js';
import { jsonBody, requestId, securityHeaders } from './common/http-middleware.js';
import { applyServerTimeouts } from './common/http-server.js';
import type { AppConfig } from './config/app-config.js';
import { DemoSeeder, type StartupKeys } from './demo/demo-seeder.js';
import { PinoNestLogger, requestLogger } from './logging/logger.js';
import { buildOpenApiDocument } from './openapi/openapi-document.js';

/** The built dashboard next to this app in the monorepo. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/dist', import.meta.url));

/**
 * A configured, initialised (not yet listening) HTTP process of Jobtrail (role `api` or `all`),
 * plus what start-up created.
 */
export async function createApp(
  config: AppConfig,
  logger: Logger,
  options: AppModuleOptions = {},
): Promise<{ app: NestExpressApplication; startup: StartupKeys }> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRole(config, logger, options), {
    bodyParser: false,
    logger: new PinoNestLogger(logger),
    abortOnError: false,
  });
  applyServerTimeouts(app.getHttpServer(), config.http);
  app.disable('x-powered-by');
  app.set('etag', false);
  app.setGlobalPrefix('api');
  app.use(securityHeaders);
  // Browsers may call the API only from the configured origins (none by default).
  app.enableCors({
    origin: (origin: string | undefined, cb: (err: Error | null, allow?: boolean) => void) =>
      cb(null, origin !== undefined && config.corsOrigins.includes(origin)),
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
  app.use(requestLogger(logger, requestId));
  app.use(jsonBody(config.bodyLimitBytes, logger));
  SwaggerModule.setup('api/docs', app, buildOpenApiDocument() as never, { jsonDocumentUrl: 'api/docs/openapi.json' });
  serveDashboard(app, config, logger);
  // Signals are handled by main.ts (close, then exit 0), not by Nest's hooks, which re-raise the
  // signal after closing and so end the process with 143 instead of 0.
  await app.init();
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

/** In the all-in-one process the built dashboard is served at `/`, with deep links falling back to it. */
function serveDashboard(app: NestExpressApplication, config: AppConfig, logger: Logger): void {
  const dir = config.dashboardDir ?? DEFAULT_DASHBOARD_DIR;
  const index = join(dir, 'index.html');
  if (!existsSync(index)) {
    logger.info({ dir }, 'no built dashboard found; serving the API only');
    return;
  }
  const assets = express.static(dir, {
    index: false,
    maxAge: '1h',
    setHeaders: (res, path) => {
      if (path.endsWith('.html')) res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
    },
  });
  // API requests never look for a file on disk.
  app.use((req: express.Request, res: express.Response, next: express.NextFunction) =>
    req.path.startsWith('/api/') ? next() : assets(req, res, next),
  );
  app.use((req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (req.method !== 'GET' || req.path.startsWith('/api')) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
    res.sendFile(index);
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
