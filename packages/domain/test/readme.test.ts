import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CONNECTION_STATUSES,
  JOB_ERROR_CODES,
  JOB_STATUSES,
  JOB_TRANSITIONS,
  PROBLEM_CODES,
  describeError,
  isTerminal,
  problemStatus,
} from '../src/index.js';

// Table rows with their cells trimmed: the formatter pads columns, the content is what counts.
const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8')
  .split('\n')
  .map((line) =>
    line.startsWith('|')
      ? `| ${line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim())
          .join(' | ')} |`
      : line,
  )
  .join('\n');

// The README is the package's reference for people: it must say what the code says.
describe('packages/domain/README.md', () => {
  it('lists every status with whether it is terminal', () => {
    for (const s of JOB_STATUSES) expect(readme).toContain(`| \`${s}\` | ${isTerminal(s) ? 'yes' : 'no'} |`);
  });

  it('lists every transition of the state machine, and no other', () => {
    const rows = Object.entries(JOB_TRANSITIONS).flatMap(([from, row]) =>
      Object.entries(row).map(([event, to]) => `| \`${from}\` | \`${event}\` | \`${to}\` |`),
    );
    for (const r of rows) expect(readme).toContain(r);
    expect(readme.match(/^\| `[a-z]+` \| `[a-z-]+` \| `[a-z]+` \|$/gm)).toHaveLength(rows.length);
  });

  it('lists every error code with its title and retry rule', () => {
    for (const c of JOB_ERROR_CODES) {
      const e = describeError(c);
      expect(readme).toContain(`| \`${c}\` | ${e.title} | ${e.retryable ? 'yes' : 'no'} |`);
    }
  });

  it('lists every connection status', () => {
    for (const s of CONNECTION_STATUSES) expect(readme).toContain(`| \`${s}\` |`);
  });

  it('lists every problem code with its HTTP status', () => {
    for (const c of PROBLEM_CODES) expect(readme).toContain(`| \`${c}\` | ${problemStatus(c)} |`);
  });
});
