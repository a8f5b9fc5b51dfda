import { useEffect, useState } from 'react';
import type { WhoAmIWire } from '@jobtrail/domain';
import { ApiClient } from '../api/client.js';
import { fetchMe } from '../api/endpoints.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { problemOf } from '../components/problem-alert.js';

interface Props {
  /** The key the link carries. */
  readonly linkKey: string;
  /** Who the tab is signed in as now. */
  readonly current: WhoAmIWire;
  readonly onSwitch: (key: string, who: WhoAmIWire) => void;
  readonly onDismiss: () => void;
}

type Check = { state: 'checking' } | { state: 'valid'; who: WhoAmIWire } | { state: 'rejected'; reason: string };

/**
 * A `#key=` link opened in a signed-in tab: the link's key is checked on the side (a 401 here
 * signs nobody out), then the user is asked, with both tenants named, whether to switch.
 */
export function LinkKeyPrompt({ linkKey, current, onSwitch, onDismiss }: Props) {
  const [check, setCheck] = useState<Check>({ state: 'checking' });
  useEffect(() => {
    const abort = new AbortController();
    // No onUnauthorized: a rejected link key must not end the current session.
    fetchMe(new ApiClient(linkKey), abort.signal).then(
      (who) => setCheck({ state: 'valid', who }),
      (err: unknown) => {
        if (!abort.signal.aborted) setCheck({ state: 'rejected', reason: problemOf(err).title });
      },
    );
    return () => abort.abort();
  }, [linkKey]);

  const sameKey = check.state === 'valid' && check.who.key_id === current.key_id;
  useEffect(() => {
    if (sameKey) onDismiss();
  }, [sameKey, onDismiss]);

  if (check.state === 'checking' || sameKey) return null;
  if (check.state === 'rejected') {
    return (
      <div className="link-key-banner problem" role="alert">
        <p>
          The sign-in link&rsquo;s key was not accepted ({check.reason}). You are still signed in to tenant{' '}
          <strong>{current.tenant_name}</strong>.
        </p>
        <button type="button" onClick={onDismiss}>
          Dismiss
        </button>
      </div>
    );
  }
  const { who } = check;
  const sameTenant = who.tenant_id === current.tenant_id;
  return (
    <ConfirmDialog
      title={sameTenant ? 'Switch to another key?' : `Switch to tenant ${who.tenant_name}?`}
      question={
        sameTenant
          ? `This link signs in to tenant ${who.tenant_name} with the key "${who.key_name}" (${who.role}). You are signed in with the key "${current.key_name}" (${current.role}).`
          : `This link signs in to tenant ${who.tenant_name} (key "${who.key_name}", ${who.role}). You are signed in to tenant ${current.tenant_name} (key "${current.key_name}", ${current.role}).`
      }
      cancelLabel={`Stay in ${current.tenant_name}`}
      confirmLabel={`Switch to ${who.tenant_name}`}
      onCancel={onDismiss}
      onConfirm={() => onSwitch(linkKey, who)}
    >
      <p className="dialog-warning">
        Switch only if you expected this link: connections you create and credentials you enter go to the tenant you are
        signed in to.
      </p>
    </ConfirmDialog>
  );
}
