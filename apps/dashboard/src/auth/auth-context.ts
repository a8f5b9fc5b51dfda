import { createContext, useContext } from 'react';
import { roleAllows, type ApiKeyRole, type WhoAmIWire } from '@jobtrail/domain';
import type { ApiClient } from '../api/client.js';

export interface Session {
  readonly client: ApiClient;
  readonly me: WhoAmIWire;
  readonly signOut: () => void;
}

export const SessionContext = createContext<Session | null>(null);

/** The signed-in session; every page below the auth gate has one. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession() outside of <AuthGate>');
  return session;
}

export function useApi(): ApiClient {
  return useSession().client;
}

/** Whether the key's role may do what needs `required` (buttons are shown/enabled accordingly). */
export function useCan(required: ApiKeyRole): boolean {
  return roleAllows(useSession().me.role, required);
}
