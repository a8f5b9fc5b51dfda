import {
  ApiKeySchema,
  CreatedApiKeySchema,
  type ApiKeyWire,
  type CreateApiKeyBody,
  type CreatedApiKeyWire,
  ConnectionSchema,
  CreateConnectionResponseSchema,
  JobDetailSchema,
  JobLogLineSchema,
  JobSummarySchema,
  UpdateConnectionResponseSchema,
  WhoAmISchema,
  type ConnectionWire,
  type UpdateConnectionBody,
  type CreateConnectionBody,
  type JobAction,
  type JobDetailWire,
  type JobLogLineWire,
  type JobStatus,
  type JobSummaryWire,
  type WhoAmIWire,
  InstitutionSchema,
  BulkRetryResponseSchema,
  type BulkRetryBody,
  type BulkRetryResponse,
  type InstitutionWire,
} from '@jobtrail/domain';
import { z } from 'zod';
import { jobsQuery, type JobsFilters } from '../jobs-list/jobs-filters.js';
import type { ApiClient, Page } from './client.js';

/** Page size of the history: big pages keep "load more" rare, the list is virtualized anyway. */
export const HISTORY_PAGE_SIZE = 50;

/** The filters of a connection's history, as kept in the URL (dates are local `YYYY-MM-DD` days). */
export interface HistoryFilters {
  readonly statuses: readonly JobStatus[];
  readonly action: JobAction | null;
  readonly from: string | null;
  readonly to: string | null;
}

export const NO_FILTERS: HistoryFilters = { statuses: [], action: null, from: null, to: null };

/** Start of a local day as an ISO instant, so "from 10 Dec" means the user's 10 Dec. */
export function startOfDayIso(day: string): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1).toISOString();
}

/** Last millisecond of a local day: "to 10 Dec" includes the whole of 10 Dec. */
export function endOfDayIso(day: string): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(new Date(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + 1).getTime() - 1).toISOString();
}

/** The query string of the history endpoint for these filters. */
export function historyQuery(filters: HistoryFilters, limit = HISTORY_PAGE_SIZE): string {
  const q = new URLSearchParams();
  if (filters.statuses.length > 0) q.set('status', filters.statuses.join(','));
  if (filters.action) q.set('action', filters.action);
  if (filters.from) q.set('from', startOfDayIso(filters.from));
  if (filters.to) q.set('to', endOfDayIso(filters.to));
  q.set('limit', String(limit));
  return q.toString();
}

/** The whole filtered history of a connection as CSV (the server streams it; no page limit). */
export function fetchHistoryCsv(client: ApiClient, connectionId: string, filters: HistoryFilters): Promise<Blob> {
  const q = new URLSearchParams(historyQuery(filters));
  q.delete('limit');
  const query = q.toString();
  return client.blob(`/connections/${encodeURIComponent(connectionId)}/jobs${query ? `?${query}` : ''}`, 'text/csv');
}

export function fetchMe(client: ApiClient, signal?: AbortSignal): Promise<WhoAmIWire> {
  return client.get('/me', WhoAmISchema, signal);
}

export function fetchConnections(
  client: ApiClient,
  next: string | null,
  signal?: AbortSignal,
): Promise<Page<ConnectionWire>> {
  return client.page(next ?? '/connections?limit=50', ConnectionSchema, signal);
}

export function fetchConnection(client: ApiClient, id: string, signal?: AbortSignal): Promise<ConnectionWire> {
  return client.get(`/connections/${encodeURIComponent(id)}`, ConnectionSchema, signal);
}

/** `POST /jobs/retry`: retries (or, `dry_run`, counts) the finished jobs matching a filter. */
export async function bulkRetry(client: ApiClient, body: BulkRetryBody): Promise<BulkRetryResponse> {
  return (await client.request('/jobs/retry', { method: 'POST', body, schema: BulkRetryResponseSchema })).data;
}

/** Every institution's health (`GET /institutions`). */
export function fetchInstitutions(client: ApiClient, signal?: AbortSignal): Promise<InstitutionWire[]> {
  return client.get('/institutions', z.array(InstitutionSchema), signal);
}

export async function createConnection(
  client: ApiClient,
  body: CreateConnectionBody,
): Promise<{ connection: ConnectionWire; job: JobSummaryWire }> {
  return (await client.request('/connections', { method: 'POST', body, schema: CreateConnectionResponseSchema })).data;
}

/**
 * Replaces a connection's credentials; the answer carries the refresh that verifies them
 * (`created` false when one was already running: its next attempt uses them).
 */
export async function updateCredentials(
  client: ApiClient,
  id: string,
  body: UpdateConnectionBody,
): Promise<{ connection: ConnectionWire; job: JobSummaryWire | null; created: boolean }> {
  const res = await client.request(`/connections/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    body,
    schema: UpdateConnectionResponseSchema,
  });
  return { connection: res.data.connection, job: res.data.job ?? null, created: res.status === 202 };
}

export async function deleteConnection(client: ApiClient, id: string): Promise<void> {
  await client.request(`/connections/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

/** Starts an action; `created` is false when a job of that action was already running (200). */
export async function startAction(
  client: ApiClient,
  connectionId: string,
  action: JobAction,
): Promise<{ job: JobSummaryWire; created: boolean }> {
  const res = await client.request(`/connections/${encodeURIComponent(connectionId)}/${action}`, {
    method: 'POST',
    body: {},
    schema: JobSummarySchema,
  });
  return { job: res.data, created: res.status === 202 };
}

export function fetchHistory(
  client: ApiClient,
  connectionId: string,
  filters: HistoryFilters,
  next: string | null,
  signal?: AbortSignal,
): Promise<Page<JobSummaryWire>> {
  return client.page(
    next ?? `/connections/${encodeURIComponent(connectionId)}/jobs?${historyQuery(filters)}`,
    JobSummarySchema,
    signal,
  );
}

/** The jobs of a connection that are still queued or running (they decide which buttons are enabled). */
export async function fetchActiveJobs(
  client: ApiClient,
  connectionId: string,
  signal?: AbortSignal,
): Promise<JobSummaryWire[]> {
  const page = await client.page(
    `/connections/${encodeURIComponent(connectionId)}/jobs?status=pending,processing&limit=200`,
    JobSummarySchema,
    signal,
  );
  return page.items;
}

export interface JobSearch {
  readonly job_id?: string;
  readonly connection_id?: string;
  readonly status?: readonly JobStatus[];
  readonly action?: JobAction;
  readonly from?: string;
  readonly to?: string;
  readonly limit?: number;
}

export function jobSearchPath(search: JobSearch): string {
  const q = new URLSearchParams();
  if (search.job_id) q.set('job_id', search.job_id);
  if (search.connection_id) q.set('connection_id', search.connection_id);
  if (search.status && search.status.length > 0) q.set('status', search.status.join(','));
  if (search.action) q.set('action', search.action);
  if (search.from) q.set('from', search.from);
  if (search.to) q.set('to', search.to);
  q.set('limit', String(search.limit ?? 50));
  return `/jobs?${q.toString()}`;
}

export function searchJobs(
  client: ApiClient,
  search: JobSearch,
  next: string | null = null,
  signal?: AbortSignal,
): Promise<Page<JobSummaryWire>> {
  return client.page(next ?? jobSearchPath(search), JobSummarySchema, signal);
}

export function fetchJob(client: ApiClient, jobId: string, signal?: AbortSignal): Promise<JobDetailWire> {
  return client.get(`/jobs/${encodeURIComponent(jobId)}`, JobDetailSchema, signal);
}

export function fetchJobLogs(
  client: ApiClient,
  jobId: string,
  next: string | null,
  signal?: AbortSignal,
): Promise<Page<JobLogLineWire>> {
  return client.page(next ?? `/jobs/${encodeURIComponent(jobId)}/logs?limit=200`, JobLogLineSchema, signal);
}

export async function retryJob(client: ApiClient, jobId: string): Promise<JobSummaryWire> {
  return (
    await client.request(`/jobs/${encodeURIComponent(jobId)}/retry`, {
      method: 'POST',
      body: {},
      schema: JobSummarySchema,
    })
  ).data;
}

export async function cancelJob(client: ApiClient, jobId: string): Promise<JobSummaryWire> {
  return (
    await client.request(`/jobs/${encodeURIComponent(jobId)}/cancel`, {
      method: 'POST',
      body: {},
      schema: JobSummarySchema,
    })
  ).data;
}

/** Answers the job's one-time-code challenge (202: right; 422 `mfa-code-invalid`: wrong). */
export async function answerChallenge(client: ApiClient, jobId: string, code: string): Promise<JobSummaryWire> {
  return (
    await client.request(`/jobs/${encodeURIComponent(jobId)}/mfa`, {
      method: 'POST',
      body: { code },
      schema: JobSummarySchema,
    })
  ).data;
}

/** A page of the Jobs page: `GET /jobs` with its filters, or the `Link` target of the next page. */
export function fetchJobsPage(
  client: ApiClient,
  filters: JobsFilters,
  limit: number,
  next: string | null,
  signal?: AbortSignal,
): Promise<Page<JobSummaryWire>> {
  return client.page(next ?? `/jobs?${jobsQuery(filters, limit)}`, JobSummarySchema, signal);
}

/** The tenant's active API keys (admins), oldest first. */
export async function fetchKeys(client: ApiClient, signal?: AbortSignal): Promise<ApiKeyWire[]> {
  return (await client.page('/keys', ApiKeySchema, signal)).items;
}

/** Creates a key; the answer carries the key itself, this once. */
export async function createKey(client: ApiClient, body: CreateApiKeyBody): Promise<CreatedApiKeyWire> {
  return (await client.request('/keys', { method: 'POST', body, schema: CreatedApiKeySchema })).data;
}

/** Revokes a key: it stops working at once, open streams included. */
export async function revokeKey(client: ApiClient, keyId: string): Promise<void> {
  await client.request(`/keys/${encodeURIComponent(keyId)}`, { method: 'DELETE' });
}
