import { render, type RenderResult } from '@testing-library/react';
import { App } from '../../src/app.js';

/** Renders the whole dashboard at `path`, signed in with `key` (none: the sign-in page). */
export function renderApp(path: string, key: string | null = 'test-key'): RenderResult {
  if (key) sessionStorage.setItem('jobtrail.api-key', key);
  window.history.replaceState(null, '', path);
  // Live updates are off in jsdom tests: fetch has no streaming body here; they have their own tests.
  return render(<App live={false} />);
}
