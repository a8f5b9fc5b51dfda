import { ProblemSchema } from '@jobtrail/domain';
import type { RawResponse } from './http.js';

/** Fragments of the server's insides that must never leave it: stack frames, SQL, file paths, drivers. */
export const LEAK_PATTERNS: readonly RegExp[] = [
  /\n\s*at /,
  /\bat \S+ \(/,
  /\(?(file:\/\/)?\/?[\w.-]+(\/[\w.@+-]+)+\.(ts|js|mjs|cjs):\d+(:\d+)?/,
  /\bSELECT\b[\s\S]*\bFROM\b/i,
  /\bINSERT\s+INTO\b/i,
  /\bUPDATE\s+\w+\s+SET\b/i,
  /\bDELETE\s+FROM\b/i,
  /node_modules/,
  /\/(work|home|tmp|usr|var|root|etc)\//,
  /\bsrc\/\w+/,
  /SQLITE_|QueryFailedError|TypeORM|better-sqlite3|\bpg-pool\b|ECONNREFUSED/i,
  /postgres(ql)?:\/\//i,
];

/** The leak patterns found in `text`. */
export function leaksIn(text: string): string[] {
  return LEAK_PATTERNS.flatMap((p) => {
    const m = p.exec(text);
    return m ? [`${String(p)} matched ${JSON.stringify(m[0].slice(0, 80))}`] : [];
  });
}

/**
 * What is wrong with an error answer: not problem+json, not matching ProblemSchema, a status that
 * differs from the HTTP one, or the server's insides (or one of `secrets`) in the body.
 */
export function problemViolations(res: RawResponse, secrets: readonly string[] = []): string[] {
  const out: string[] = [];
  const type = String(res.headers['content-type'] ?? '');
  if (!/^application\/problem\+json(;|$)/.test(type)) out.push(`content-type ${type || '(none)'}`);
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return [...out, `body is not JSON: ${JSON.stringify(res.text.slice(0, 120))}`];
  }
  const parsed = ProblemSchema.safeParse(body);
  if (!parsed.success)
    out.push(`not a Problem: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  else {
    if (parsed.data.status !== res.status) out.push(`problem status ${parsed.data.status} on an HTTP ${res.status}`);
    if (!/^[a-z]+(-[a-z]+)*$/.test(parsed.data.code)) out.push(`code ${parsed.data.code}`);
  }
  // `instance` echoes the request's own path, which the caller chose: not scanned for leaks.
  const { instance: _instance, ...rest } = (body ?? {}) as Record<string, unknown>;
  out.push(...leaksIn(JSON.stringify(rest).replaceAll('\\n', '\n')));
  for (const s of secrets) if (s && res.text.includes(s)) out.push(`secret ${s.slice(0, 6)}… in the body`);
  return out;
}
