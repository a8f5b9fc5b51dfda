import {
  isJobAction,
  isJobStatus,
  JOB_ACTIONS,
  JOB_ERROR_CODES,
  JOB_STATUSES,
  type JobSummaryWire,
} from '@jobtrail/domain';

/**
 * One filter of the Jobs page: its URL and `GET /jobs` parameter (the same name in both), how it
 * is entered, which values are accepted, and how a live event's job is matched against it (so new
 * jobs join the list only when they belong there).
 */
export interface JobsFilterField {
  readonly param: string;
  readonly label: string;
  readonly kind: 'statuses' | 'select' | 'text' | 'datetime';
  readonly options?: readonly string[];
  /** Accepts a value from the URL; anything else is dropped rather than sent to the API. */
  readonly valid: (value: string) => boolean;
  readonly matches: (job: JobSummaryWire, value: string) => boolean;
  readonly placeholder?: string;
  /** Values offered while typing a text filter (any other valid value may be typed). */
  readonly suggestions?: readonly string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isInstant = (v: string) => /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v));

/**
 * Every filter of the Jobs page, in display order. A filter `GET /jobs` learns (error code,
 * institution) is one more line here, e.g.
 * `{ param: 'error_code', label: 'Error code', kind: 'text', valid: () => true, matches: (j, v) => j.error?.code === v },`
 */
export const JOBS_FILTER_FIELDS: readonly JobsFilterField[] = [
  {
    param: 'status',
    label: 'Status',
    kind: 'statuses',
    valid: (v) => v.split(',').every(isJobStatus),
    matches: (j, v) => v.split(',').includes(j.status),
  },
  {
    param: 'action',
    label: 'Action',
    kind: 'select',
    options: JOB_ACTIONS,
    valid: isJobAction,
    matches: (j, v) => j.action === v,
  },
  {
    param: 'from',
    label: 'From',
    kind: 'datetime',
    valid: isInstant,
    matches: (j, v) => Date.parse(j.date) >= Date.parse(v),
  },
  {
    param: 'to',
    label: 'To',
    kind: 'datetime',
    valid: isInstant,
    matches: (j, v) => Date.parse(j.date) <= Date.parse(v),
  },
  {
    param: 'connection_id',
    label: 'Connection ID',
    kind: 'text',
    placeholder: 'Full connection id',
    valid: (v) => UUID.test(v),
    matches: (j, v) => j.connection_id === v.toLowerCase(),
  },
  {
    param: 'error_code',
    label: 'Error code',
    kind: 'text',
    placeholder: 'e.g. invalid-credentials',
    // The catalogue's codes; an institution may send others, which can be typed.
    suggestions: JOB_ERROR_CODES,
    valid: (v) => /^[A-Za-z0-9_.-]{1,64}$/.test(v),
    matches: (j, v) => j.error?.code === v,
  },
  // A live job summary does not say its institution: new jobs join a list filtered by it on reload only.
  {
    param: 'institution_id',
    label: 'Institution',
    kind: 'text',
    placeholder: 'e.g. sandbox',
    valid: (v) => /^[a-z0-9][a-z0-9-]{0,63}$/.test(v),
    matches: () => false,
  },
];

/** The filters in force: parameter → value (statuses comma-separated, in the domain's order). */
export type JobsFilters = Readonly<Record<string, string>>;

/** Filters from the URL; malformed values are ignored rather than sent to the API. */
export function parseJobsFilters(params: URLSearchParams): JobsFilters {
  const out: Record<string, string> = {};
  for (const field of JOBS_FILTER_FIELDS) {
    const raw = params.get(field.param)?.trim();
    if (!raw || !field.valid(raw)) continue;
    out[field.param] =
      field.kind === 'statuses'
        ? JOB_STATUSES.filter((s) => raw.split(',').includes(s)).join(',')
        : field.kind === 'datetime'
          ? new Date(raw).toISOString()
          : raw;
  }
  return out;
}

/** The URL parameters for these filters; other parameters are kept. */
export function writeJobsFilters(params: URLSearchParams, filters: JobsFilters): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const field of JOBS_FILTER_FIELDS) {
    const value = filters[field.param];
    if (value) next.set(field.param, value);
    else next.delete(field.param);
  }
  return next;
}

/** The `GET /jobs` query for these filters: the parameters are named alike, so this is a copy. */
export function jobsQuery(filters: JobsFilters, limit: number): string {
  const q = new URLSearchParams();
  for (const field of JOBS_FILTER_FIELDS) {
    const value = filters[field.param];
    if (value) q.set(field.param, value);
  }
  q.set('limit', String(limit));
  return q.toString();
}

export function matchesJobsFilters(job: JobSummaryWire, filters: JobsFilters): boolean {
  return JOBS_FILTER_FIELDS.every((field) => {
    const value = filters[field.param];
    return !value || field.matches(job, value);
  });
}

export function hasJobsFilters(filters: JobsFilters): boolean {
  return Object.values(filters).some(Boolean);
}

/** True when the time range is backwards; the API would refuse it, so the form says so first. */
export function jobsRangeIsInvalid(filters: JobsFilters): boolean {
  const { from, to } = filters;
  return Boolean(from && to && Date.parse(from) > Date.parse(to));
}

/** A link to the Jobs page with these filters, e.g. from the overview's tiles and bars. */
export function jobsPageLink(filters: JobsFilters): string {
  const q = writeJobsFilters(new URLSearchParams(), filters).toString();
  return q ? `/jobs?${q}` : '/jobs';
}

/** `2024-12-10T04:33:00.000Z` → the `datetime-local` value of that instant in local time. */
export function toLocalInput(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A `datetime-local` value (local time) → the ISO instant kept in the URL; null when empty or invalid. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}
