import { Readable } from 'node:stream';
import type { JobSummary } from '@jobtrail/domain';

/** The columns of a history export, in order. */
const CSV_COLUMNS: ReadonlyArray<readonly [string, (job: JobSummary) => string | number | null]> = [
  ['job_id', (j) => j.id],
  ['connection_id', (j) => j.connectionId],
  ['action', (j) => j.action],
  ['status', (j) => j.status],
  ['date', (j) => j.createdAt.toISOString()],
  ['started_at', (j) => j.startedAt?.toISOString() ?? null],
  ['finished_at', (j) => j.finishedAt?.toISOString() ?? null],
  ['attempt', (j) => j.attempt],
  ['max_attempts', (j) => j.maxAttempts],
  ['error_code', (j) => j.error?.code ?? null],
  ['error_detail', (j) => j.error?.detail ?? null],
  ['retry_of', (j) => j.retryOf],
];

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A text starting
 * with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` so a spreadsheet does not run it as a
 * formula (an error detail comes from the bank and may say anything).
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const CSV_HEADER = `${CSV_COLUMNS.map(([name]) => name).join(',')}\r\n`;

export function csvRow(job: JobSummary): string {
  return `${CSV_COLUMNS.map(([, value]) => csvField(value(job))).join(',')}\r\n`;
}

/**
 * A readable CSV of every job `nextBatch` yields, header first. Pulled: a batch is read only when
 * the response has drained the previous one, so memory stays flat however long the history.
 */
export function csvStream(batches: AsyncIterable<readonly JobSummary[]>): Readable {
  async function* lines(): AsyncGenerator<string> {
    yield CSV_HEADER;
    for await (const batch of batches) yield batch.map(csvRow).join('');
  }
  return Readable.from(lines(), { objectMode: false, highWaterMark: 64 * 1024 });
}
