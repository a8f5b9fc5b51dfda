/**
 * The steps of each action, in the order a worker runs them. This is the registry of actions:
 * adding an entry (e.g. `connect` for the first sync of a new connection) adds an action
 * everywhere, and every `Record<JobAction, ...>` then demands its own entry.
 */
export const ACTION_STEPS = {
  /** Fetch fresh data from the financial institution. */
  refresh: ['verify-credentials', 'retrieve-accounts', 'retrieve-transactions'],
  /** Delete the data fetched for a connection. */
  purge: ['delete-transactions', 'delete-accounts'],
} as const satisfies Record<string, readonly string[]>;

/** An action that can be started on a connection; see {@link ACTION_STEPS}. */
export type JobAction = keyof typeof ACTION_STEPS;

/** Every action, in registry order. */
export const JOB_ACTIONS = Object.keys(ACTION_STEPS) as JobAction[];

/** The name of one step of some action. */
export type StepName = (typeof ACTION_STEPS)[JobAction][number];

/** Every step name of every action. */
export const STEP_NAMES: readonly StepName[] = JOB_ACTIONS.flatMap((a) => ACTION_STEPS[a]);

/** The ordered steps a job of this action runs. */
export function stepsOf(action: JobAction): readonly StepName[] {
  return ACTION_STEPS[action];
}

/** True for a string that names an action (for parsing untrusted input). */
export function isJobAction(value: unknown): value is JobAction {
  return typeof value === 'string' && Object.hasOwn(ACTION_STEPS, value);
}
