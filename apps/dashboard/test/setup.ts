// Extends @jest/globals' `expect` with DOM matchers; Testing Library cleans up after each test by itself.
import '@testing-library/jest-dom/jest-globals';
import { TextDecoder, TextEncoder } from 'node:util';
import { afterEach } from '@jest/globals';
import { configure } from '@testing-library/react';

// CI runs these suites in parallel workers next to the other packages' suites: a view that shows
// after two fake requests can take over a second there. A wrong view still fails, only later.
configure({ asyncUtilTimeout: 5_000 });

// jsdom lacks these Web APIs that browsers (and the dashboard) have.
Object.assign(globalThis, { TextDecoder, TextEncoder });

// jsdom does no layout, so every box would be 0 px tall and the virtualized history would render
// no row at all. A fixed viewport height lets it render the window of rows a browser would.
Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 600 });
Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 1200 });

afterEach(() => {
  sessionStorage.clear();
  window.history.replaceState(null, '', '/');
});
