import { useCallback, useMemo, useRef, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiClient } from '../api/client.js';
import { fetchMe } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { Loading } from '../components/loading.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { SessionContext, type Session } from './auth-context.js';
import { LinkKeyPrompt } from './link-key-prompt.js';
import { clearPendingLinkKey, clearStoredKey, initialKeys, storeKey, type InitialKeys } from './session.js';
import { SignInPage } from './sign-in-page.js';

const REJECTED = 'Your API key was not accepted (revoked, expired or mistyped). Sign in with a valid key.';

/** Shows the sign-in page until there is a working key, then the app with its session. */
export function AuthGate({ children }: { readonly children: ReactNode }) {
  const queryClient = useQueryClient();
  const [initial] = useState<InitialKeys>(initialKeys);
  const [key, setKey] = useState<string | null>(initial.key);
  const [linkKey, setLinkKey] = useState<string | null>(initial.linkKey);
  const dismissLink = useCallback(() => {
    clearPendingLinkKey();
    setLinkKey(null);
  }, []);
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback(
    (reason: string | null = null) => {
      clearStoredKey();
      clearPendingLinkKey();
      setLinkKey(null);
      // Nothing read with the old key may be shown to whoever signs in next.
      queryClient.clear();
      setKey(null);
      setNotice(reason);
    },
    [queryClient],
  );
  const signOutRef = useRef(signOut);
  signOutRef.current = signOut;

  const client = useMemo(() => (key ? new ApiClient(key, () => signOutRef.current(REJECTED)) : null), [key]);
  const me = useQuery({
    queryKey: queryKeys.me(),
    queryFn: ({ signal }) => fetchMe(client as ApiClient, signal),
    enabled: client !== null,
    staleTime: Infinity,
  });

  const session = useMemo<Session | null>(
    () => (client && me.data ? { client, me: me.data, signOut: () => signOut(null) } : null),
    [client, me.data, signOut],
  );

  if (!client) {
    return (
      <SignInPage
        notice={notice}
        onSignedIn={(newKey, who) => {
          storeKey(newKey);
          queryClient.setQueryData(queryKeys.me(), who);
          setNotice(null);
          setKey(newKey);
        }}
      />
    );
  }
  if (session)
    return (
      <SessionContext.Provider value={session}>
        {linkKey && (
          <LinkKeyPrompt
            linkKey={linkKey}
            current={session.me}
            onDismiss={dismissLink}
            onSwitch={(newKey, who) => {
              storeKey(newKey);
              clearPendingLinkKey();
              // Nothing read with the old tenant's key may show under the new one.
              queryClient.clear();
              queryClient.setQueryData(queryKeys.me(), who);
              setLinkKey(null);
              setKey(newKey);
            }}
          />
        )}
        {children}
      </SessionContext.Provider>
    );
  if (me.isError) {
    return (
      <main className="sign-in" id="main">
        <ProblemAlert error={me.error} context="Could not check your API key" onRetry={() => void me.refetch()} />
        <button type="button" onClick={() => signOut(null)}>
          Sign out
        </button>
      </main>
    );
  }
  return (
    <main className="sign-in" id="main">
      <Loading label="Checking your API key…" />
    </main>
  );
}
