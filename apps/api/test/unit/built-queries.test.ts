import { describe, expect, it } from '@jest/globals';
import { BuiltQueries, type BuiltQuery, type QueryParams } from '../../src/persistence/built-queries.js';

/**
 * A stand-in for TypeORM's builder on SQLite: every `:name` becomes `?` with its value pushed,
 * `:...name` one `?` per element; counts its runs.
 */
function fakeBuilder(sql: string) {
  let runs = 0;
  const build = (p: QueryParams): BuiltQuery => {
    runs++;
    const values: unknown[] = [];
    const text = sql.replace(/:(\.\.\.)?(\w+)/g, (_, spread: string | undefined, name: string) => {
      const v = p[name];
      if (spread) {
        values.push(...(v as unknown[]));
        return (v as unknown[]).map(() => '?').join(', ');
      }
      values.push(v);
      return '?';
    });
    return [text, values];
  };
  return { build, runs: () => runs };
}

describe('BuiltQueries', () => {
  it('builds a shape once, then binds each call its own values, in placeholder order (repeats and lists too)', () => {
    const cache = new BuiltQueries();
    const q = fakeBuilder('a = :a AND b IN (:...b) AND (c < :c OR (c = :c AND d < :d))');
    const first = cache.bind('s', { a: 'x', b: [1, 2], c: 10, d: 'id-1' }, q.build);
    const second = cache.bind('s', { a: 'y', b: [3, 4], c: 20, d: 'id-2' }, q.build);
    expect(q.runs()).toBe(1);
    expect(first).toEqual(['a = ? AND b IN (?, ?) AND (c < ? OR (c = ? AND d < ?))', ['x', 1, 2, 10, 10, 'id-1']]);
    expect(second).toEqual(['a = ? AND b IN (?, ?) AND (c < ? OR (c = ? AND d < ?))', ['y', 3, 4, 20, 20, 'id-2']]);
    // The answer is the one an uncached build gives.
    expect(second).toEqual(
      fakeBuilder('a = :a AND b IN (:...b) AND (c < :c OR (c = :c AND d < :d))').build({
        a: 'y',
        b: [3, 4],
        c: 20,
        d: 'id-2',
      }),
    );
  });

  it('keeps shapes apart', () => {
    const cache = new BuiltQueries();
    const one = fakeBuilder('a = :a');
    const two = fakeBuilder('b = :a');
    expect(cache.bind('one', { a: 1 }, one.build)[0]).toBe('a = ?');
    expect(cache.bind('two', { a: 1 }, two.build)[0]).toBe('b = ?');
  });

  it('does not cache a shape whose build inlines a value or changes it: it is built every time', () => {
    const cache = new BuiltQueries();
    let runs = 0;
    const inlining = (p: QueryParams): BuiltQuery => {
      runs++;
      return [`a = '${String(p.a)}'`, []];
    };
    expect(cache.bind('inline', { a: 'x' }, inlining)).toEqual(["a = 'x'", []]);
    expect(cache.bind('inline', { a: 'y' }, inlining)).toEqual(["a = 'y'", []]);
    let conversions = 0;
    const converting = (p: QueryParams): BuiltQuery => {
      conversions++;
      return ['a = ?', [String(p.a).toUpperCase()]];
    };
    expect(cache.bind('convert', { a: 'x' }, converting)).toEqual(['a = ?', ['X']]);
    expect(cache.bind('convert', { a: 'y' }, converting)).toEqual(['a = ?', ['Y']]);
    expect(runs).toBe(3);
    expect(conversions).toBe(3);
  });

  it('holds a bounded number of shapes', () => {
    const cache = new BuiltQueries(2);
    const q = fakeBuilder('a = :a');
    for (const shape of ['s1', 's2', 's3', 's1']) cache.bind(shape, { a: 1 }, q.build);
    // s3 cleared the cache when it was full, so s1 was built again.
    expect(q.runs()).toBe(4);
  });
});
