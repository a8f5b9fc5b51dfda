/**
 * The `rel="next"` target of an RFC 8288 `Link` header, or null. The API sends references relative
 * to the request, so they are resolved against the URL that was asked for.
 */
export function nextLinkOf(header: string | null, requestPath: string): string | null {
  if (!header) return null;
  // Several links may share one header, separated by commas outside the angle brackets.
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const [, target = '', params = ''] = match;
    const rels = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(params)?.[1]?.toLowerCase().split(/\s+/) ?? [];
    if (!rels.includes('next')) continue;
    // A dummy origin is enough: only the path and query are kept, so the request stays same-origin.
    const resolved = new URL(target, new URL(requestPath, 'http://origin.invalid'));
    return `${resolved.pathname}${resolved.search}`;
  }
  return null;
}
