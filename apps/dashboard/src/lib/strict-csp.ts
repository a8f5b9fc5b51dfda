import { config } from 'zod';

/**
 * The dashboard runs under a Content-Security-Policy without 'unsafe-eval'. zod (through the
 * domain's wire schemas) would otherwise probe `new Function` to compile fast parsers: refused,
 * and reported as a CSP violation on every load. Its interpreted parsers are plenty fast here.
 */
config({ jitless: true });
