import type { RouteSpec } from '../../../src/openapi/openapi-document.js';
import type { TestApp } from '../../support/test-app.js';

/** `GET /api/connections/:connection_id`: a route as Express spells it. */
export const expressRoute = (route: Pick<RouteSpec, 'method' | 'path'>) =>
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

interface ExpressLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: ExpressLayer[] };
}

/**
 * Every method + path the running app serves through its router, as `GET /api/...` strings: Nest
 * registers each controller handler as an Express route on the app's router.
 */
export function servedRoutes(t: TestApp): string[] {
  const express = t.app.getHttpAdapter().getInstance() as { router?: { stack: ExpressLayer[] } };
  const stack = express.router?.stack;
  if (!stack) throw new Error('cannot read the Express router stack');
  const out = new Set<string>();
  const walk = (layers: readonly ExpressLayer[]) => {
    for (const layer of layers) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const method of Object.keys(layer.route.methods)) {
          if (method === '_all') continue;
          for (const path of paths) out.add(`${method.toUpperCase()} ${path}`);
        }
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk(stack);
  return [...out].sort();
}
