import {
  BULK_RETRY_SKIP_REASONS,
  MAX_BULK_RETRY,
  type BulkRetryResponse,
  type BulkRetrySkipReason,
  type JobAction,
} from '@jobtrail/domain';
import { formatLocal } from '../lib/format.js';
import { JOBS_FILTER_FIELDS, type JobsFilters } from './jobs-filters.js';

/** The body of `POST /jobs/retry` as the dashboard sends it. */
export interface BulkRetryRequest {
  readonly status: 'failed' | 'cancelled';
  readonly action?: JobAction;
  readonly error_code?: string;
  readonly connection_id?: string;
  readonly institution_id?: string;
  readonly from?: string;
  readonly to?: string;
  readonly dry_run: boolean;
}

/**
 * The bulk retry for the Jobs page's filters, or null when the page does not list exactly what it
 * would retry: `POST /jobs/retry` takes one status (failed or cancelled), so a page showing several
 * statuses (or none chosen) offers nothing rather than retrying something other than what it shows.
 */
export function bulkRetryRequest(filters: JobsFilters, dryRun: boolean): BulkRetryRequest | null {
  const status = filters.status;
  if (status !== 'failed' && status !== 'cancelled') return null;
  const optional = (name: string) => (filters[name] ? { [name]: filters[name] } : {});
  return {
    status,
    ...optional('action'),
    ...optional('error_code'),
    // The API compares ids as stored: lower case (the page's filter accepts either case).
    ...(filters.connection_id ? { connection_id: filters.connection_id.toLowerCase() } : {}),
    ...optional('institution_id'),
    ...optional('from'),
    ...optional('to'),
    dry_run: dryRun,
  };
}

/** The filters in words, in the page's order and labels: "Status: failed", "Action: refresh"... */
export function describeFilters(filters: JobsFilters): string[] {
  return JOBS_FILTER_FIELDS.flatMap((field) => {
    const value = filters[field.param];
    if (!value) return [];
    const shown = field.kind === 'datetime' ? formatLocal(value) : value.split(',').join(', ');
    return [`${field.label}: ${shown}`];
  });
}

const are = (n: number, one: string, many: string) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

/** Why matching jobs are not retried, in plain words, each with its count. */
const SKIP_WORDS: Record<BulkRetrySkipReason, (n: number) => string> = {
  superseded: (n) =>
    are(n, 'already has a newer job of the same action', 'already have a newer job of the same action'),
  'active-job': (n) =>
    are(
      n,
      'has a job of the same action already queued or running',
      'have a job of the same action already queued or running',
    ),
  'credentials-update-required': (n) =>
    are(
      n,
      'needs new credentials first (the bank rejected them)',
      'need new credentials first (the bank rejected them)',
    ),
  'already-retried': (n) => are(n, 'was retried by someone else first', 'were retried by someone else first'),
  'over-limit': (n) =>
    are(
      n,
      `is beyond the ${MAX_BULK_RETRY.toLocaleString('en')} a run can retry: run it again`,
      `are beyond the ${MAX_BULK_RETRY.toLocaleString('en')} a run can retry: run it again`,
    ),
};

/** "2 already have a newer job…; 1 needs new credentials first…", in the API's order of reasons. */
export function describeSkipped(skipped: BulkRetryResponse['skipped']): string | null {
  const parts = BULK_RETRY_SKIP_REASONS.flatMap((reason) => {
    const n = skipped[reason] ?? 0;
    return n > 0 ? [SKIP_WORDS[reason](n)] : [];
  });
  return parts.length > 0 ? parts.join('; ') : null;
}

/** What a finished run says in its notice. */
export function bulkRetryNotice(result: BulkRetryResponse): string {
  const retried =
    result.retried === 0
      ? 'No job was retried.'
      : `Retried ${are(result.retried, 'job', 'jobs')}: each runs as a new job.`;
  const skipped = describeSkipped(result.skipped);
  return skipped ? `${retried} Not retried: ${skipped}.` : retried;
}

/**
 * A fresh Idempotency-Key: one per confirmation, so a double click or a retried request replays
 * the first answer instead of retrying twice. `getRandomValues` works outside secure contexts
 * too (the dashboard may be served over plain http), unlike `crypto.randomUUID`.
 */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `bulk-retry-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}
