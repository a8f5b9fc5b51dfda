import { useId, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  API_KEY_ROLES,
  CreateApiKeyBodySchema,
  type ApiKeyRole,
  type ApiKeyWire,
  type CreatedApiKeyWire,
} from '@jobtrail/domain';
import { createKey, fetchKeys, revokeKey } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useSession } from '../auth/auth-context.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { CopyButton } from '../components/copy-button.js';
import { DateTime, RelativeTime } from '../components/date-time.js';
import { EmptyState } from '../components/empty-state.js';
import { Loading } from '../components/loading.js';
import { useNotify } from '../components/notice-context.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { useNow } from '../lib/clock-context.js';
import { useDocumentTitle } from '../lib/use-document-title.js';

/** What each role may do, in the words of the create form. */
const ROLE_HELP: Record<ApiKeyRole, string> = {
  viewer: 'reads connections and jobs',
  operator: 'also starts refreshes and purges, retries and cancels',
  admin: 'also deletes connections and manages keys',
};

/**
 * The tenant's API keys (admins): who can call the API, with which role, and when each key was
 * last used. A new key is shown once, with a copy button; revoking asks first and takes effect at
 * once, open event streams included.
 */
export function KeysPage() {
  useDocumentTitle('API keys');
  const { me } = useSession();
  if (me.role !== 'admin')
    return (
      <section aria-labelledby="keys-title">
        <h2 id="keys-title">API keys</h2>
        <EmptyState title="Only admins manage API keys.">Ask an admin of {me.tenant_name} for a key.</EmptyState>
      </section>
    );
  return <AdminKeys />;
}

function AdminKeys() {
  const client = useApi();
  const { me } = useSession();
  const now = useNow();
  const notify = useNotify();
  const queryClient = useQueryClient();
  const [created, setCreated] = useState<CreatedApiKeyWire | null>(null);
  const [revoking, setRevoking] = useState<ApiKeyWire | null>(null);
  const keys = useQuery({ queryKey: queryKeys.keys(), queryFn: ({ signal }) => fetchKeys(client, signal) });
  const revoke = useMutation({
    mutationFn: (key: ApiKeyWire) => revokeKey(client, key.key_id),
    onSuccess: (_, key) => {
      notify(`Key "${key.name}" revoked: it no longer works.`);
      void queryClient.invalidateQueries({ queryKey: queryKeys.keys() });
    },
  });

  return (
    <div className="page-grid">
      <section aria-labelledby="keys-title" className="page-main">
        <h2 id="keys-title">API keys of {me.tenant_name}</h2>
        {created && (
          <div className="key-reveal" role="status">
            <p>
              <strong>Copy the key of “{created.name}” now:</strong> it is not shown again (only its hash is kept).
            </p>
            <code className="mono key-secret" data-testid="new-key">
              {created.key}
            </code>{' '}
            <CopyButton text={created.key} label={`Copy the key "${created.name}"`} />{' '}
            <button type="button" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        )}
        {revoke.isError && <ProblemAlert error={revoke.error} context="Could not revoke the key" />}
        {keys.isPending ? (
          <Loading label="Loading keys…" />
        ) : !keys.data ? (
          <ProblemAlert error={keys.error} context="Could not load the keys" onRetry={() => void keys.refetch()} />
        ) : (
          <div className="table-scroll" tabIndex={0} role="region" aria-label="API keys">
            <table className="data-table keys-table">
              <caption className="visually-hidden">Active API keys, oldest first</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Key</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Created by</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.data.map((k) => (
                  <tr key={k.key_id}>
                    <td>
                      {k.name}
                      {k.key_id === me.key_id && <span className="muted"> (this session)</span>}
                    </td>
                    <td>{k.role}</td>
                    <td className="mono">{k.prefix}…</td>
                    <td>
                      <DateTime iso={k.created_at} />
                    </td>
                    <td>{k.last_used_at ? <RelativeTime iso={k.last_used_at} now={now} /> : 'never'}</td>
                    <td>{k.created_by?.name ?? 'command line'}</td>
                    <td>
                      <button
                        type="button"
                        className="button-small danger"
                        onClick={() => setRevoking(k)}
                        disabled={revoke.isPending}
                      >
                        Revoke key
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {revoking && (
          <ConfirmDialog
            title="Revoke this key?"
            question={`Revoke the key "${revoking.name}" (${revoking.role}, ${revoking.prefix}…)?`}
            confirmLabel="Revoke key"
            danger
            onConfirm={() => {
              revoke.mutate(revoking);
              setRevoking(null);
            }}
            onCancel={() => setRevoking(null)}
          >
            <p>
              Every request and open event stream using it stops working at once. This cannot be undone: a new key must
              be created and handed out instead.
            </p>
          </ConfirmDialog>
        )}
      </section>
      <aside className="page-aside" aria-label="Create an API key">
        <CreateKeyForm onCreated={setCreated} />
      </aside>
    </div>
  );
}

function CreateKeyForm({ onCreated }: { readonly onCreated: (key: CreatedApiKeyWire) => void }) {
  const client = useApi();
  const queryClient = useQueryClient();
  const ids = { name: useId(), role: useId(), error: useId() };
  const [name, setName] = useState('');
  const [role, setRole] = useState<ApiKeyRole>('viewer');
  const [error, setError] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (body: { name: string; role: ApiKeyRole }) => createKey(client, body),
    onSuccess: (key) => {
      onCreated(key);
      setName('');
      void queryClient.invalidateQueries({ queryKey: queryKeys.keys() });
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    const parsed = CreateApiKeyBodySchema.safeParse({ name, role });
    if (!parsed.success) {
      setError(parsed.error.issues[0]?.message ?? 'is not valid');
      return;
    }
    setError(null);
    create.mutate(parsed.data);
  }

  return (
    <form className="card create-form" onSubmit={submit} noValidate aria-labelledby={`${ids.name}-title`}>
      <h3 id={`${ids.name}-title`}>New API key</h3>
      <label htmlFor={ids.name}>Name</label>
      <input
        id={ids.name}
        value={name}
        onChange={(e) => setName(e.target.value)}
        aria-invalid={error !== null}
        aria-describedby={error ? ids.error : undefined}
        placeholder="ci-bot"
      />
      {error && (
        <p id={ids.error} className="field-error">
          Name {error}
        </p>
      )}
      <label htmlFor={ids.role}>Role</label>
      <select id={ids.role} value={role} onChange={(e) => setRole(e.target.value as ApiKeyRole)}>
        {API_KEY_ROLES.map((r) => (
          <option key={r} value={r}>
            {r}: {ROLE_HELP[r]}
          </option>
        ))}
      </select>
      {create.isError && <ProblemAlert error={create.error} context="Could not create the key" />}
      <button type="submit" className="primary" disabled={create.isPending}>
        {create.isPending ? 'Creating…' : 'Create key'}
      </button>
    </form>
  );
}
