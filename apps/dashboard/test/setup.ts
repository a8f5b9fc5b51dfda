// Extends @jest/globals' `expect` with DOM matchers; Testing Library cleans up after each test by itself.
import '@testing-library/jest-dom/jest-globals';
import { TextDecoder, TextEncoder } from 'node:util';
import { afterEach } from '@jest/globals';

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
