import { InitialSchema1733800000000 } from './migrations/1733800000000-initial-schema.js';
import { Engine1733800000001 } from './migrations/1733800000001-engine.js';
import { NamedConstraintsAndStatusChecks1733800000002 } from './migrations/1733800000002-named-constraints-and-status-checks.js';
import { DeadlineRetentionAndCleanupIndexes1733800000003 } from './migrations/1733800000003-deadline-retention-and-cleanup-indexes.js';
import { ApiKeyAudit1733800000100 } from './migrations/1733800000100-api-key-audit.js';
import { Webhooks1733800000200 } from './migrations/1733800000200-webhooks.js';
import { ConnectionStatusAndCredentials1733800000300 } from './migrations/1733800000300-connection-status-and-credentials.js';
import { MfaChallenges1733800000400 } from './migrations/1733800000400-mfa-challenges.js';
import { RefreshSchedules1733800000401 } from './migrations/1733800000401-refresh-schedules.js';
import { InstitutionCircuits1733800000402 } from './migrations/1733800000402-institution-circuits.js';
import { WebhookClaims1733800000500 } from './migrations/1733800000500-webhook-claims.js';
import { PartialFinishedAndErrorIndexes1733800000800 } from './migrations/1733800000800-partial-finished-and-error-indexes.js';
import { AttemptSteps1733800000900 } from './migrations/1733800000900-attempt-steps.js';
import { PartitionedJobEvents1733800001000 } from './migrations/1733800001000-partitioned-job-events.js';
import { FoldedLogLines1733800001100 } from './migrations/1733800001100-folded-log-lines.js';

/**
 * Every migration of the one schema, in order. Schema changes happen only here (`synchronize` is
 * off); the api's TypeORM entities are checked against the result on both databases.
 */
export const MIGRATIONS = [
  InitialSchema1733800000000,
  Engine1733800000001,
  NamedConstraintsAndStatusChecks1733800000002,
  DeadlineRetentionAndCleanupIndexes1733800000003,
  ApiKeyAudit1733800000100,
  Webhooks1733800000200,
  ConnectionStatusAndCredentials1733800000300,
  MfaChallenges1733800000400,
  RefreshSchedules1733800000401,
  InstitutionCircuits1733800000402,
  WebhookClaims1733800000500,
  PartialFinishedAndErrorIndexes1733800000800,
  AttemptSteps1733800000900,
  PartitionedJobEvents1733800001000,
  FoldedLogLines1733800001100,
];
