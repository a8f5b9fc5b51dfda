import type { ApiKeyRole } from '@jobtrail/domain';

/** Who is calling: set on the request by the API key guard. */
export interface AuthContext {
  readonly tenantId: string;
  readonly tenantName: string;
  readonly keyId: string;
  readonly keyName: string;
  readonly role: ApiKeyRole;
}
