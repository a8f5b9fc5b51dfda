/**
 * Ends every exhaustive `switch` over a union: adding a status, action or code to the union
 * makes each switch that forgot it fail to compile.
 */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`Unhandled ${what}: ${JSON.stringify(value)}`);
}
