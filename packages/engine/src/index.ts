/**
 * @jobtrail/engine — the job lifecycle, with no web framework: the store (claims, the one fenced
 * write path for every job change, events), the worker and its runner, the lease sweeper,
 * retention, the notification bus and the institution connectors. Processes assemble it (the api's
 * WorkerModule); nothing here asks which role a process plays.
 */
export * from './config.js';
export * from './ids.js';
export * from './database/database.js';
export * from './schema/migrations.js';
export * from './store/rows.js';
export * from './store/job.mapper.js';
export * from './store/jobs.store.js';
export * from './store/bank-data.store.js';
export * from './bus/job-events.bus.js';
export * from './bus/notifications.js';
export * from './connectors/connector.js';
export * from './connectors/sandbox.connector.js';
export * from './worker/write-batcher.js';
export * from './worker/job-runner.js';
export * from './worker/job-worker.js';
export * from './worker/worker-lock.js';
export * from './worker/refresh-scheduler.js';
export * from './retention/retention.sweeper.js';
export * from './retention/event-partitions.js';
export * from './engine.js';
export * from './worker/lease-sweeper.js';
export * from './clock.js';
export * from './webhooks/url-safety.js';
export * from './webhooks/webhook-signature.js';
export * from './webhooks/webhook-sender.js';
export * from './webhooks/webhook-outbox.js';
export * from './webhooks/webhook-dispatcher.js';
