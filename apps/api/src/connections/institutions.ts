/**
 * Institutions a connection can be made to. The sandbox institution answers with deterministic
 * data and has logins that fail in each catalogued way (see the README).
 */
export const SUPPORTED_INSTITUTIONS = ['sandbox'] as const;

export function isSupportedInstitution(id: string): boolean {
  return (SUPPORTED_INSTITUTIONS as readonly string[]).includes(id);
}
