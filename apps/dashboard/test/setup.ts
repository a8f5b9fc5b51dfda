// Extends @jest/globals' `expect` with DOM matchers; Testing Library cleans up after each test by itself.
import '@testing-library/jest-dom/jest-globals';
