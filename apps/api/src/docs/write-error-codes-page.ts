/** Writes docs/error-codes.md from the domain's catalogue: `pnpm --filter @jobtrail/api docs:error-codes`. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES_PAGE, renderErrorCodesPage } from './error-codes-page.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
writeFileSync(`${root}${ERROR_CODES_PAGE}`, renderErrorCodesPage());
process.stdout.write(`wrote ${ERROR_CODES_PAGE}\n`);
