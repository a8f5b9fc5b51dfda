import { ERROR_CATALOGUE, JOB_ERROR_CODES, PROBLEM_CODES, problemStatus, problemTitle } from '@jobtrail/domain';

/** Where the page lives in the repository, from the repository root. */
export const ERROR_CODES_PAGE = 'docs/error-codes.md';

/**
 * `docs/error-codes.md`: the job error catalogue and the problem codes, rendered from the domain
 * package (the one definition), so the page cannot drift from what the API sends.
 */
export function renderErrorCodesPage(): string {
  const lines: string[] = [
    '# Error codes',
    '',
    '<!-- Generated from packages/domain (error catalogue, problem codes) by `pnpm --filter @jobtrail/api docs:error-codes`. Do not edit by hand: a test fails when this page is stale. -->',
    '',
    'Two kinds of codes reach a client:',
    '',
    "- **Job error codes**: why a job failed (or why its last attempt failed before a retry), in the job's `error` (`GET /jobs/{job_id}`, the history, events).",
    '- **Problem codes**: why an HTTP request was refused, in the `code` of an RFC 9457 `application/problem+json` answer.',
    '',
    'Branch on codes, never on titles or messages. Both sets are enums in the OpenAPI document (`JobErrorCode`, `ProblemCode`).',
    '',
    '## Job error codes',
    '',
    'A job error is `{code, title, detail, retryable, troubleshooting}`. `title`, `retryable` and `troubleshooting` come from this catalogue; `detail` says what happened in that very job. Institutions may send codes of their own: they are kept as they came (title = the code, not retried, no troubleshooting steps).',
    '',
  ];
  for (const code of JOB_ERROR_CODES) {
    const entry = ERROR_CATALOGUE[code];
    lines.push(
      `### \`${code}\``,
      '',
      `**${entry.title}**. Retried automatically: ${entry.retryable ? 'yes' : 'no'}.`,
      '',
    );
    entry.troubleshooting.forEach((step, i) => lines.push(`${i + 1}. ${step}`));
    lines.push('');
  }
  lines.push(
    '## Problem codes',
    '',
    'Every refused request answers `application/problem+json`: `{type, title, status, code, detail?, instance?, errors?, error_id?}`. `type` is `https://jobtrail.dev/problems/<code>`.',
    '',
    ...table(
      ['code', 'HTTP status', 'title'],
      PROBLEM_CODES.map((code) => [`\`${code}\``, String(problemStatus(code)), problemTitle(code)]),
    ),
  );
  lines.push('');
  return lines.join('\n');
}

/** A Markdown table with its columns padded, as Prettier writes them (the page stays formatted). */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}
