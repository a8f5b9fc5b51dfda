/** A whole job id (UUID, any version), once normalised to lower case. */
export const FULL_JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** What `GET /jobs?job_id=` accepts: the start of a job id. */
export const JOB_ID_PREFIX = /^[0-9a-f-]{1,36}$/;

/** A leading "job", "job:", "job id", "job_id=", "job #" … as people paste it from tickets. */
const LEADING_LABEL = /^job(?:[\s_-]*id)?\s*[:=#]?\s*/i;
/** The ellipsis the dashboard itself puts after short ids (`01a22885…`), or three dots. */
const ELLIPSIS = /^(?:…|\.{3})+|(?:…|\.{3})+$/g;
/** Quotes and backticks around a pasted id. */
const QUOTES = /^["'`“”‘’]+|["'`“”‘’]+$/g;

/**
 * Turns what someone pasted into the job search box into a job id or prefix: trims spaces, a
 * leading "job"/"job:"/"job_id" word, quotes and a leading or trailing `…`/`...`, and lower-cases
 * it. The result may still not be an id (see `JOB_ID_PREFIX`); the caller says so.
 */
export function normaliseJobQuery(input: string): string {
  let text = input.trim();
  // Each pass may uncover another layer ("job: `01a2…`"); a few passes are plenty.
  for (let i = 0; i < 3; i += 1) {
    const before = text;
    text = text.replace(LEADING_LABEL, '').replace(QUOTES, '').replace(ELLIPSIS, '').trim();
    if (text === before) break;
  }
  return text.toLowerCase();
}
