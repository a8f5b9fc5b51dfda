import { ConfigError, loadConfig } from './config/app-config.js';
import { createApp, createWorkerProcess } from './create-app.js';
import { createLogger } from './logging/logger.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (config.role === 'worker') {
    const worker = await createWorkerProcess(config, logger);
    onShutdownSignal(logger, () => worker.close());
    process.stdout.write(`Jobtrail worker running (${config.database.kind})\n`);
    return;
  }
  const { app, startup } = await createApp(config, logger);
  onShutdownSignal(logger, () => app.close());
  // Every interface, as Node's own default: Fastify's alone would be localhost. IPv4 only where
  // the machine has no IPv6.
  await app.listen(config.port, '::').catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EAFNOSUPPORT' && err.code !== 'EADDRNOTAVAIL') throw err;
    return app.listen(config.port, '0.0.0.0');
  });
  const base = `http://localhost:${config.port}`;
  const lines = [
    '',
    `  Jobtrail is running (${config.database.kind}, role ${config.role})`,
    `  Dashboard:  ${base}/`,
    `  API:        ${base}/api   (OpenAPI: ${base}/api/docs)`,
  ];
  if (startup.demoKey) {
    lines.push(`  Demo key:   ${startup.demoKey}`, `  Sign in:    ${base}/#key=${startup.demoKey}`);
  }
  // The banner is for the person at the terminal; it goes to stdout, not into the JSON logs.
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

/** SIGTERM/SIGINT: close (the worker stops claiming, finishes or releases in-flight jobs), exit 0. */
function onShutdownSignal(logger: ReturnType<typeof createLogger>, close: () => Promise<void>): void {
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: { message: (err as Error).message } }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`Configuration error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`Jobtrail failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
