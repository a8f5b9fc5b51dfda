import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import BetterSqlite3 from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { databaseFor, type Database } from '../src/index.js';

/**
 * SQLite rows are read as better-sqlite3's raw arrays and made into objects by a function compiled
 * per statement (issue 13). What that could break: a value under the wrong name, a duplicate name
 * resolved differently, a column named `__proto__` turned into a prototype, a `SELECT *` that gains
 * a column under a running process and loses it in the objects.
 */
describe('rows read from SQLite', () => {
  let source: DataSource;
  let db: Database;
  /** The same file through better-sqlite3's own objects: what every row must equal. */
  let plain: BetterSqlite3.Database;

  beforeAll(async () => {
    source = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    await source.initialize();
    db = databaseFor(source);
    plain = (source.driver as unknown as { databaseConnection: BetterSqlite3.Database }).databaseConnection;
    await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, note TEXT, data BLOB)');
    await db.execute('INSERT INTO t (name, score, note, data) VALUES ($1, $2, $3, $4), ($5, $6, $7, $8)', [
      'first',
      1.5,
      null,
      Buffer.from([1, 2, 3]),
      'quote " and \\ back',
      -2,
      'x',
      null,
    ]);
  });
  afterAll(async () => {
    await source.destroy();
  });

  const expected = (sql: string, ...params: unknown[]) => plain.prepare(sql).all(...params);

  it('hold every column under its name, with the values better-sqlite3 gives', async () => {
    const sql = 'SELECT id, name, score, note, data FROM t ORDER BY id';
    const rows = await db.query<Record<string, unknown>>(sql);
    expect(rows).toEqual(expected(sql));
    expect(rows[0]).toEqual({ id: 1, name: 'first', score: 1.5, note: null, data: Buffer.from([1, 2, 3]) });
    expect(Object.keys(rows[1]!)).toEqual(['id', 'name', 'score', 'note', 'data']);
  });

  it('the same through a transaction, a built query and named parameters', async () => {
    const sql = 'SELECT name, score FROM t WHERE id = $1 OR id = $1 + 1 ORDER BY id';
    expect(await db.transaction((tx) => tx.query(sql, [1]))).toEqual([
      { name: 'first', score: 1.5 },
      { name: 'quote " and \\ back', score: -2 },
    ]);
    expect(await db.queryBuilt(['SELECT name AS "a b", note AS "c""d" FROM t WHERE id = ?', [2]])).toEqual([
      { 'a b': 'quote " and \\ back', 'c"d': 'x' },
    ]);
  });

  it('keep the last of two columns of one name, as better-sqlite3 does', async () => {
    const sql = 'SELECT id AS v, name AS v, 7 AS w FROM t WHERE id = 1';
    expect(await db.query(sql)).toEqual(expected(sql));
    expect(await db.query(sql)).toEqual([{ v: 'first', w: 7 }]);
  });

  it('never let a column named __proto__ set a prototype, whatever its value', async () => {
    const [row] = await db.query<Record<string, unknown>>("SELECT X'0102' AS __proto__, name FROM t WHERE id = 1");
    // Object.prototype of whichever realm made the row: its own prototype is null.
    expect(Object.getPrototypeOf(Object.getPrototypeOf(row))).toBeNull();
    expect(Object.getOwnPropertyDescriptor(row, '__proto__')?.value).toEqual(Buffer.from([1, 2]));
    expect(row!.name).toBe('first');
  });

  it('answer an empty list for no rows, and for a statement that returns none', async () => {
    expect(await db.query('SELECT id FROM t WHERE id < 0')).toEqual([]);
    expect(await db.query("UPDATE t SET note = 'y' WHERE id = 2")).toEqual([]);
    expect(await db.query('SELECT note FROM t WHERE id = 2')).toEqual([{ note: 'y' }]);
  });

  it('follow a SELECT * whose table gains a column under the running process', async () => {
    await db.execute('CREATE TABLE grows (id INTEGER PRIMARY KEY, a TEXT)');
    await db.execute("INSERT INTO grows (a) VALUES ('one')");
    const sql = 'SELECT * FROM grows';
    expect(await db.query(sql)).toEqual([{ id: 1, a: 'one' }]);
    await db.execute("ALTER TABLE grows ADD COLUMN b TEXT DEFAULT 'new'");
    expect(await db.query(sql)).toEqual([{ id: 1, a: 'one', b: 'new' }]);
    expect(await db.query(sql)).toEqual(expected(sql));
  });

  it('write once with RETURNING when the table gained a column since the statement was prepared', async () => {
    await db.execute('CREATE TABLE log (id INTEGER PRIMARY KEY, a TEXT)');
    const insert = 'INSERT INTO log (a) VALUES ($1) RETURNING *';
    expect(await db.query(insert, ['one'])).toEqual([{ id: 1, a: 'one' }]);
    await db.execute("ALTER TABLE log ADD COLUMN b TEXT DEFAULT 'new'");
    expect(await db.query(insert, ['two'])).toEqual([{ id: 2, a: 'two', b: 'new' }]);
    expect(await db.query('SELECT count(*) AS n FROM log')).toEqual([{ n: 2 }]);
  });
});
