/** The roles of an API key, from least to most powerful; each can do all the previous ones can. */
export const API_KEY_ROLES = [
  /** Reads connections, jobs, logs and events. */
  'viewer',
  /** Also starts actions (create connection, refresh, purge), retries and cancels jobs. */
  'operator',
  /** Also deletes connections and manages the tenant. */
  'admin',
] as const;

/** The role of an API key; see {@link API_KEY_ROLES}. */
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

/** True when a key with `role` may do what needs `required`. */
export function roleAllows(role: ApiKeyRole, required: ApiKeyRole): boolean {
  return API_KEY_ROLES.indexOf(role) >= API_KEY_ROLES.indexOf(required);
}

/** True for a string that names a role. */
export function isApiKeyRole(value: unknown): value is ApiKeyRole {
  return typeof value === 'string' && (API_KEY_ROLES as readonly string[]).includes(value);
}
