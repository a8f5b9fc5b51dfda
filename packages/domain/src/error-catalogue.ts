/** What the catalogue knows about one error code. */
export interface CatalogueEntry {
  /** A short human title, shown as the error's headline. */
  readonly title: string;
  /** Whether the engine retries automatically (with backoff) after this error. */
  readonly retryable: boolean;
  /** What a support person or the end user can do about it, in order. */
  readonly troubleshooting: readonly string[];
}

/** The catalogued job error codes; institutions may send others, which are kept as they came. */
export const JOB_ERROR_CODES = [
  /** The institution rejected the login or password. */
  'invalid-credentials',
  /** The institution wants the user to act (accept terms, answer a prompt) on its own site. */
  'user-action-required',
  /** The institution could not be reached or answered with a server error. */
  'institution-unavailable',
  /** The institution announced planned maintenance. */
  'maintenance',
  /** The institution accepted the request but did not answer in time. */
  'institution-timeout',
  /** The job ran past its deadline and was stopped by the engine. */
  'job-timed-out',
  /** The worker running the job stopped renewing its lease (crash, network, restart). */
  'worker-lost',
  /** Someone cancelled the job. */
  'cancelled',
  /** Three wrong one-time codes were given to the institution's challenge. */
  'mfa-failed',
  /** Nobody answered the institution's one-time-code challenge before it expired. */
  'mfa-timeout',
  /** A bug or an unexpected condition inside Jobtrail. */
  'internal-error',
] as const;

/** A catalogued job error code; see {@link JOB_ERROR_CODES}. */
export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];

/** Title, retry rule and troubleshooting steps of every catalogued code. */
export const ERROR_CATALOGUE: Readonly<Record<JobErrorCode, CatalogueEntry>> = {
  'invalid-credentials': {
    title: 'Invalid credentials',
    retryable: false,
    troubleshooting: [
      'Ask the user to check the login and password they use on the bank website.',
      'Update the connection with the corrected credentials, then retry the job.',
      'Retrying without changing the credentials fails again and may lock the bank account.',
    ],
  },
  'user-action-required': {
    title: 'Action required on the bank website',
    retryable: false,
    troubleshooting: [
      'Ask the user to log in to the bank website and clear the message or prompt shown there (new terms, security question, consent renewal).',
      'Once the user has done so, retry the job.',
    ],
  },
  'institution-unavailable': {
    title: 'Institution unavailable',
    retryable: true,
    troubleshooting: [
      'The bank could not be reached; Jobtrail retries automatically with backoff.',
      'If every attempt fails, check the institution status page and retry later.',
    ],
  },
  maintenance: {
    title: 'Institution under maintenance',
    retryable: true,
    troubleshooting: [
      'The bank announced maintenance; Jobtrail retries automatically.',
      'If attempts run out, retry once the maintenance window has ended.',
    ],
  },
  'institution-timeout': {
    title: 'Institution did not answer in time',
    retryable: true,
    troubleshooting: [
      'The bank was too slow to answer; Jobtrail retries automatically.',
      'Repeated timeouts usually mean the bank is degraded: retry later.',
    ],
  },
  'job-timed-out': {
    title: 'Job timed out',
    retryable: false,
    troubleshooting: [
      'The job ran longer than its deadline and was stopped.',
      'Retry the job; if it times out again, the institution is likely degraded.',
    ],
  },
  'worker-lost': {
    title: 'Worker lost',
    retryable: true,
    troubleshooting: [
      'The worker running this job stopped (restart or crash); the job was put back in the queue.',
      'No action is needed unless it keeps happening: then check the worker processes.',
    ],
  },
  cancelled: {
    title: 'Cancelled',
    retryable: false,
    troubleshooting: ['The job was cancelled on request. Retry it to run the action again.'],
  },
  'mfa-failed': {
    title: 'One-time code rejected',
    retryable: false,
    troubleshooting: [
      'Three wrong one-time codes were entered; the institution stopped the login.',
      'Ask the user for the latest code the bank sent them (codes expire quickly), then retry the job and enter it when asked.',
      'If the user receives no code, they should check the phone number or app registered with the bank.',
    ],
  },
  'mfa-timeout': {
    title: 'One-time code not entered in time',
    retryable: false,
    troubleshooting: [
      'The institution asked for a one-time code and nobody answered before the challenge expired.',
      'Retry the job when the user is available, and enter the code on the job page (or POST /jobs/:job_id/mfa) as soon as it is asked.',
    ],
  },
  'internal-error': {
    title: 'Internal error',
    retryable: false,
    troubleshooting: [
      'Something went wrong inside Jobtrail. Retry the job.',
      'If it fails again, send the support details (job id, error code) to the Jobtrail team.',
    ],
  },
};

/** A catalogue entry for any code, `known: false` for a code the catalogue does not list. */
export interface ErrorDescription extends CatalogueEntry {
  readonly code: string;
  readonly known: boolean;
}

/** True when `code` is one of the catalogued codes. */
export function isCataloguedError(code: string): code is JobErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}

/**
 * How to present an error code. Unknown codes (from an institution) are kept as they came: the
 * code itself is the title, they are not retried, and there are no troubleshooting steps.
 */
export function describeError(code: string): ErrorDescription {
  if (isCataloguedError(code)) return { code, known: true, ...ERROR_CATALOGUE[code] };
  return { code, known: false, title: code, retryable: false, troubleshooting: [] };
}
