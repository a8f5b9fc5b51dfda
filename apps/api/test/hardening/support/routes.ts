import type { RouteSpec } from '../../../src/openapi/openapi-document.js';
import type { TestApp } from '../../support/test-app.js';

/** `GET /api/connections/:connection_id`: a route as the router (find-my-way) spells it. */
export const routerRoute = (route: Pick<RouteSpec, 'method' | 'path'>) =>
  `${route.method.toUpperCase()} /api${route.path.replace(/\{(\w+)\}/g, ':$1')}`;

/**
 * encodeURIComponent that does not throw on lone surrogates: they are sent as the (invalid UTF-8)
 * bytes a hostile client could send.
 */
export function encode(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    out += code >= 0xd800 && code <= 0xdfff ? '%ED%A0%80' : encodeURIComponent(ch);
  }
  return out;
}

/** The path of `route` with its parameters filled in (values are percent-encoded). */
export function pathOf(route: Pick<RouteSpec, 'path'>, params: Readonly<Record<string, string>> = {}): string {
  return `/api${route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`no value for {${name}} of ${route.path}`);
    return encode(v);
  })}`;
}

/**
 * Every method + path the running app serves through its router, as `GET /api/...` strings: Nest
 * registers each controller handler as a Fastify route. Read from Fastify's own listing of its
 * radix tree (`printRoutes`), where each line is a node (a piece of path below its parent, and the
 * methods routed there) indented four characters a level. HEAD routes Fastify adds for each GET
 * and the CORS preflight's catch-all OPTIONS are left out: they are not the app's own routes.
 */
export function servedRoutes(t: TestApp): string[] {
  const fastify = t.app.getHttpAdapter().getInstance() as { printRoutes(o: { commonPrefix: boolean }): string };
  const lines = fastify.printRoutes({ commonPrefix: false }).split('\n').filter(Boolean);
  if (lines.length === 0) throw new Error('cannot read the router tree');
  const out = new Set<string>();
  const prefixes: string[] = [];
  for (const line of lines) {
    const m = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, -]+)\))?$/.exec(line);
    if (!m) throw new Error(`cannot read the router tree line ${JSON.stringify(line)}`);
    const depth = m[1]!.length / 4;
    prefixes.length = depth;
    const path = prefixes.join('') + m[2]!;
    prefixes.push(m[2]!);
    const methods = (m[3] ?? '').split(', ').filter((x) => /^[A-Z]+$/.test(x));
    for (const method of methods) {
      if (method === 'HEAD' && methods.includes('GET')) continue;
      if (method === 'OPTIONS' && path === '*') continue;
      out.add(`${method} ${path}`);
    }
  }
  return [...out].sort();
}
