import { nodeConfig } from '../../eslint.shared.js';

// No browser globals are declared: `globals` is not a dependency here, and typescript-eslint
// turns `no-undef` off for TypeScript files, whose globals the compiler checks against the DOM lib.
export default nodeConfig;
