import type { ConnectionWire, JobSummaryWire } from '@jobtrail/domain';
import type { ApiClient } from '../api/client.js';
import { searchConnections, searchJobs } from '../api/endpoints.js';
import { FULL_JOB_ID, JOB_ID_PREFIX, normaliseJobQuery } from './normalise-job-query.js';

/** Most results of each kind read for one search; more say "type more". */
export const SEARCH_LIMIT = 50;
/** What `GET /connections?q=` accepts. */
export const MAX_SEARCH_LENGTH = 128;

/** Quotes, backticks and the ellipsis the dashboard puts after short ids, around pasted text. */
const WRAPPING = /^(?:["'`“”‘’]|…|\.{3})+|(?:["'`“”‘’]|…|\.{3})+$/g;

/** What one search text can be looked up as. */
export interface SearchPlan {
  /** The text as typed, trimmed of spaces, quotes and `…` (case kept: logins are case-sensitive). */
  readonly text: string;
  /** Searched among connections (full login, reference, id prefix); null for a text labelled "job …". */
  readonly connectionQuery: string | null;
  /** Searched among job ids (prefix); null when the text cannot start a job id. */
  readonly jobPrefix: string | null;
  /** A whole UUID: a connection with that id opens at once, otherwise the job of that id. */
  readonly fullId: string | null;
}

export function planSearch(input: string): SearchPlan {
  let text = input.trim();
  for (let i = 0; i < 3; i += 1) {
    const before = text;
    text = text.replace(WRAPPING, '').trim();
    if (text === before) break;
  }
  const jobQuery = normaliseJobQuery(input);
  const jobPrefix = JOB_ID_PREFIX.test(jobQuery) ? jobQuery : null;
  // "job 01a2…" is a job id by the user's own words: no connection is searched for it.
  const labelledJob = /^job\b/i.test(input.trim());
  return {
    text,
    connectionQuery: labelledJob || text === '' ? null : text,
    jobPrefix,
    fullId: jobPrefix !== null && FULL_JOB_ID.test(jobPrefix) ? jobPrefix : null,
  };
}

export interface SearchResults {
  readonly connections: readonly ConnectionWire[];
  readonly jobs: readonly JobSummaryWire[];
  /** True when a kind had more than `SEARCH_LIMIT` matches. */
  readonly more: boolean;
}

/** Connections and jobs a text finds, both asked at once. */
export async function findAnything(client: ApiClient, plan: SearchPlan, signal?: AbortSignal): Promise<SearchResults> {
  const [connections, jobs] = await Promise.all([
    plan.connectionQuery === null
      ? null
      : searchConnections(client, plan.connectionQuery.slice(0, MAX_SEARCH_LENGTH), SEARCH_LIMIT, signal),
    plan.jobPrefix === null ? null : searchJobs(client, { job_id: plan.jobPrefix, limit: SEARCH_LIMIT }, null, signal),
  ]);
  return {
    connections: connections?.items ?? [],
    jobs: jobs?.items ?? [],
    more: Boolean(connections?.next || jobs?.next),
  };
}
