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

/** The key to start with: one from the URL wins over the stored one, and replaces it. */
export function initialKey(): string | null {
  const fromUrl = takeKeyFromFragment();
  if (fromUrl) {
    storeKey(fromUrl);
    return fromUrl;
  }
  return readStoredKey();
}
