/**
 * @jobtrail/domain — the one definition of Jobtrail's jobs, shared by the API and the dashboard.
 * No framework imports: this package must run in Node and in the browser alike.
 */
export * from './assert-never.js';
export * from './status.js';
export * from './action.js';
export * from './error-catalogue.js';
export * from './job.js';
export * from './backoff.js';
export * from './state-machine.js';
export * from './concurrency.js';
export * from './problem.js';
export * from './wire.js';
export * from './wire-mappers.js';
export * from './roles.js';
export * from './retention.js';
export * from './sandbox.js';
export * from './connection.js';
export * from './attempts.js';
export * from './webhooks.js';
export * from './webhook-wire.js';
export * from './schedule.js';
export * from './institution.js';
