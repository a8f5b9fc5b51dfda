/**
 * Where the API key lives: sessionStorage, so it is gone when the tab closes and never shared with
 * other tabs or written to disk by the app (a key is as good as a password).
 */
const STORAGE_KEY = 'jobtrail.api-key';

export function readStoredKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be disabled (privacy modes); the user then signs in on every load.
    return null;
  }
}

export function storeKey(key: string): void {
  try {
    sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // See readStoredKey: the key then lives in memory only.
  }
}

export function clearStoredKey(): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing stored, nothing to clear.
  }
}

/**
 * A key handed over in the URL fragment (`/#key=...`, printed by the server at start). The fragment
 * never reaches a server; it is removed from the address bar at once so it does not linger in
 * history, bookmarks or screenshots.
 */
export function takeKeyFromFragment(loc: Location = window.location, hist: History = window.history): string | null {
  if (!loc.hash.startsWith('#')) return null;
  const params = new URLSearchParams(loc.hash.slice(1));
  const key = params.get('key')?.trim();
  if (!key) return null;
  params.delete('key');
  const rest = params.toString();
  hist.replaceState(hist.state, '', `${loc.pathname}${loc.search}${rest ? `#${rest}` : ''}`);
  return key;
}

const PENDING_LINK_KEY = 'jobtrail.link-key';

/** A key from a link that waits for the signed-in user to accept or refuse it. */
export function readPendingLinkKey(): string | null {
  try {
    return sessionStorage.getItem(PENDING_LINK_KEY);
  } catch {
    return null;
  }
}

export function clearPendingLinkKey(): void {
  try {
    sessionStorage.removeItem(PENDING_LINK_KEY);
  } catch {
    // Nothing stored, nothing to clear.
  }
}

function storePendingLinkKey(key: string): void {
  try {
    sessionStorage.setItem(PENDING_LINK_KEY, key);
  } catch {
    // Storage disabled: the link is then simply ignored on the next load.
  }
}

export interface InitialKeys {
  /** The key the tab is signed in with (or signs in with). */
  readonly key: string | null;
  /** A different key from a `#key=` link, not used until the user says so. */
  readonly linkKey: string | null;
}

/**
 * The keys to start with. A link's key signs in a tab that has no session. In a signed-in tab it
 * NEVER replaces the current key by itself: whoever sent the link would choose which tenant the
 * user's next actions (and a customer's bank credentials) go to. It is kept aside until the user
 * confirms the switch, naming both tenants. (Kept in sessionStorage rather than memory so the
 * answer is the same however often this runs.)
 */
export function initialKeys(): InitialKeys {
  const fromUrl = takeKeyFromFragment();
  const stored = readStoredKey();
  if (fromUrl && (stored === null || stored === fromUrl)) {
    storeKey(fromUrl);
    clearPendingLinkKey();
    return { key: fromUrl, linkKey: null };
  }
  if (fromUrl) storePendingLinkKey(fromUrl);
  const pending = readPendingLinkKey();
  return { key: stored, linkKey: stored !== null && pending !== stored ? pending : null };
}
