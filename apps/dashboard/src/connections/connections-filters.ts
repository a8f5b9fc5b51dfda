import { isConnectionStatus, type ConnectionStatus } from '@jobtrail/domain';

/**
 * The filters of the connections list, kept in the URL under the names `GET /connections` uses
 * (`status`, `institution_id`, `latest_job_status`), so a filtered list can be bookmarked and sent.
 */
export interface ConnectionFilters {
  readonly status: ConnectionStatus | null;
  readonly institutionId: string | null;
  /** "Latest job failed": the connection's latest job, of any action, ended `failed`. */
  readonly latestJobFailed: boolean;
}

export const NO_CONNECTION_FILTERS: ConnectionFilters = { status: null, institutionId: null, latestJobFailed: false };

/** What `GET /connections` accepts as an institution id. */
const INSTITUTION_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

export function isInstitutionId(value: string): boolean {
  return INSTITUTION_ID.test(value);
}

/** Filters from the URL; malformed values are ignored rather than sent to the API (a 400 helps nobody). */
export function parseConnectionFilters(params: URLSearchParams): ConnectionFilters {
  const status = params.get('status');
  const institution = params.get('institution_id')?.trim() ?? '';
  return {
    status: isConnectionStatus(status) ? status : null,
    institutionId: isInstitutionId(institution) ? institution : null,
    latestJobFailed: params.get('latest_job_status') === 'failed',
  };
}

/** The URL parameters for these filters; other parameters are kept. */
export function writeConnectionFilters(params: URLSearchParams, filters: ConnectionFilters): URLSearchParams {
  const next = new URLSearchParams(params);
  const set = (name: string, value: string | null) => (value ? next.set(name, value) : next.delete(name));
  set('status', filters.status);
  set('institution_id', filters.institutionId);
  set('latest_job_status', filters.latestJobFailed ? 'failed' : null);
  return next;
}

/** The `GET /connections` path of the first page with these filters. */
export function connectionsPath(filters: ConnectionFilters, limit: number): string {
  const q = writeConnectionFilters(new URLSearchParams(), filters);
  q.set('limit', String(limit));
  return `/connections?${q.toString()}`;
}

export function hasConnectionFilters(filters: ConnectionFilters): boolean {
  return filters.status !== null || filters.institutionId !== null || filters.latestJobFailed;
}

/** A connection status in words (the filter's options; the table adds an icon). */
export const CONNECTION_STATUS_NAME: Record<ConnectionStatus, string> = {
  pending: 'Pending',
  active: 'Active',
  invalid: 'Invalid credentials',
  'action-required': 'Action required',
  unavailable: 'Institution unavailable',
};
