import { createHash } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

/**
 * A statement PostgreSQL prepares once per connection (a named statement) and then only binds and
 * runs: parsing and planning the write path's statements at every run cost about a third of a
 * pickup's time (issue 13, docs/scaling.md). Only for constant texts: each one stays prepared for the
 * connection's life. It names its columns (no `*`): a prepared statement whose result columns
 * change, when a migration adds a column under a running process, fails ("cached plan must not
 * change result type"). SQLite caches every statement by its text anyway.
 */
export class PreparedSql {
  readonly name: string;
  constructor(readonly text: string) {
    this.name = `jt_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
  }
}

/** SQL text, or a statement to prepare once per connection. */
export type Sql = string | PreparedSql;

/** The text of a statement. */
export function sqlText(sql: Sql): string {
  return typeof sql === 'string' ? sql : sql.text;
}

/** The part of node-postgres's client the engine runs statements on. */
interface PgClient {
  query(config: {
    text: string;
    values: unknown[];
    name?: string;
  }): Promise<{ rows: unknown[]; rowCount: number | null; command?: string }>;
  /**
   * node-postgres's pipelining (8.21+): a query is written at once instead of after the previous
   * one's answer. Answers still come back, and are awaited, in order.
   */
  pipeline?: boolean;
}

/** Runs `sql` on a node-postgres client, prepared (named) when it is a PreparedSql and `prepare` holds. */
function runOnClient(client: PgClient, sql: Sql, params: readonly unknown[], prepare: boolean) {
  return client.query(
    typeof sql === 'string' || !prepare
      ? { text: sqlText(sql), values: [...params] }
      : { text: sql.text, values: [...params], name: sql.name },
  );
}

/**
 * Runs SQL. Placeholders are PostgreSQL's numbered `$1, $2...` on both databases: better-sqlite3
 * binds `$1` as the named parameter "1", so one SQL text serves both without any rewriting.
 */
export interface SqlExecutor {
  /** Rows of a SELECT (or of `... RETURNING`). */
  query<T>(sql: Sql, params?: readonly unknown[]): Promise<T[]>;
  /** Rows changed by an INSERT/UPDATE/DELETE. */
  execute(sql: Sql, params?: readonly unknown[]): Promise<number>;
  /**
   * Rows of a statement built by TypeORM's query builder (`getQueryAndParameters()`), which uses
   * each database's own placeholders.
   */
  queryBuilt<T>(built: readonly [Sql, readonly unknown[]]): Promise<T[]>;
}

/** A transaction: raw SQL for the engine's store, and TypeORM's manager for the api's repositories. */
export interface Transaction extends SqlExecutor {
  readonly manager: EntityManager;
  /**
   * Runs the transaction's last statement and commits it. On PostgreSQL the COMMIT is sent behind
   * the statement without waiting for its answer: one round trip instead of two. Nothing may run in
   * the transaction afterwards (it throws); an error thrown by `fn` after it no longer rolls back.
   */
  queryAndCommit<T>(sql: Sql, params?: readonly unknown[]): Promise<T[]>;
}

/** Thrown by a statement run in a transaction that `queryAndCommit` already ended. */
export class TransactionEndedError extends Error {
  constructor() {
    super('the transaction was already committed by queryAndCommit');
    this.name = 'TransactionEndedError';
  }
}

/** Which database a process runs on. */
export type DatabaseKind = 'sqlite' | 'postgres';

/** The database behind TypeORM's DataSource, with transactions that work the same on both kinds. */
export abstract class Database implements SqlExecutor {
  abstract readonly kind: DatabaseKind;
  abstract query<T>(sql: Sql, params?: readonly unknown[]): Promise<T[]>;
  abstract execute(sql: Sql, params?: readonly unknown[]): Promise<number>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  abstract transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Statements built by TypeORM run here too: one statement cache and, on SQLite, one connection discipline. */
  abstract queryBuilt<T>(built: readonly [Sql, readonly unknown[]]): Promise<T[]>;
  /**
   * Runs `fn` with TypeORM's manager outside a transaction. On SQLite one connection serves the
   * whole process, so this waits for (and holds off) the engine's transactions meanwhile.
   */
  abstract withManager<T>(fn: (manager: EntityManager) => Promise<T>): Promise<T>;

  /** True when the database answers. */
  async ping(): Promise<boolean> {
    try {
      await this.query('SELECT 1 AS ok');
      return true;
    } catch {
      return false;
    }
  }
}

/** How the engine talks to the database. */
export interface DatabaseOptions {
  /**
   * PostgreSQL: run PreparedSql as named statements (the default). Off for a pooler that does not
   * keep them across transactions (PgBouncer in transaction mode before 1.21, or with
   * `max_prepared_statements = 0`): every statement is then parsed and planned at each run.
   */
  readonly preparedStatements?: boolean;
}

/** PostgreSQL through TypeORM's pool. */
export class PostgresDatabase extends Database {
  readonly kind = 'postgres' as const;
  private readonly prepare: boolean;
  constructor(
    private readonly dataSource: DataSource,
    options: DatabaseOptions = {},
  ) {
    super();
    this.prepare = options.preparedStatements ?? true;
  }

  async query<T>(sql: Sql, params: readonly unknown[] = []): Promise<T[]> {
    return (await this.run(sql, params)).rows as T[];
  }

  async execute(sql: Sql, params: readonly unknown[] = []): Promise<number> {
    return (await this.run(sql, params)).rowCount ?? 0;
  }

  // On node-postgres's client itself, under TypeORM's pool: TypeORM's query runner takes no
  // statement names, and its per-query work (events, result wrapping) is of no use here.
  private async run(sql: Sql, params: readonly unknown[]) {
    const runner = this.dataSource.createQueryRunner();
    try {
      return await runOnClient(await clientOf(runner), sql, params, this.prepare);
    } finally {
      await runner.release();
    }
  }

  withManager<T>(fn: (manager: EntityManager) => Promise<T>): Promise<T> {
    return fn(this.dataSource.manager);
  }

  queryBuilt<T>([sql, params]: readonly [Sql, readonly unknown[]]): Promise<T[]> {
    return this.query<T>(sql, params);
  }

  /**
   * BEGIN is written together with the transaction's first statement, and `queryAndCommit`'s COMMIT
   * with its last: a create is two round trips instead of four, a claim three instead of five (the
   * pickup trace in docs/scaling.md). Pipelining changes no order: the server runs the statements
   * one after the other, as sent, and a statement after a failed one fails ("current transaction is
   * aborted"); only the waiting between them goes. TypeORM's runner is told of the transaction, so
   * its manager, used inside `fn`, runs in it (and nests as savepoints) as after `startTransaction`.
   */
  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    let client: PgClient | null = null;
    try {
      client = await clientOf(runner);
      client.pipeline = true;
      const pg = client;
      const begun = pg.query({ text: 'BEGIN', values: [] });
      // Awaited with each statement (see `run`); its failure is also theirs (a broken connection).
      begun.catch(() => undefined);
      setTransactionOf(runner, true);
      let ended = false;
      const run = async (sql: Sql, params: readonly unknown[]) => {
        if (ended) throw new TransactionEndedError();
        return settled(await Promise.allSettled([begun, runOnClient(pg, sql, params, this.prepare)]))[1];
      };
      const tx: Transaction = {
        manager: runner.manager,
        query: async <R>(sql: Sql, params: readonly unknown[] = []) => (await run(sql, params)).rows as R[],
        execute: async (sql: Sql, params: readonly unknown[] = []) => (await run(sql, params)).rowCount ?? 0,
        queryBuilt: async <R>([sql, params]: readonly [Sql, readonly unknown[]]) =>
          (await run(sql, params)).rows as R[],
        queryAndCommit: async <R>(sql: Sql, params: readonly unknown[] = []) => {
          // Checked before anything is sent: a second call must not send a COMMIT of nothing.
          if (ended) throw new TransactionEndedError();
          const result = run(sql, params);
          ended = true;
          setTransactionOf(runner, false);
          // Both answers are awaited, whatever the first: the connection goes back to the pool idle.
          // A failed statement leaves the transaction aborted, and the COMMIT behind it rolls back.
          const [rows, commit] = settled(await Promise.allSettled([result, pg.query({ text: 'COMMIT', values: [] })]));
          // ROLLBACK, not COMMIT: an earlier statement failed and `fn` went on regardless.
          if (commit.command !== 'COMMIT') throw new Error('the transaction was rolled back at its commit');
          return rows.rows as R[];
        },
      };
      try {
        const result = await fn(tx);
        if (!ended) await runner.commitTransaction();
        return result;
      } catch (err) {
        if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
        throw err;
      }
    } finally {
      setTransactionOf(runner, false);
      if (client) client.pipeline = false;
      await runner.release();
    }
  }
}

/** The values of settled promises, or the first one's error (in order: the first sent failed first). */
function settled<A, B>(results: [PromiseSettledResult<A>, PromiseSettledResult<B>]): [A, B] {
  const [a, b] = results;
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}

/**
 * Tells TypeORM's runner that a transaction was begun (or ended) outside its `startTransaction`, as
 * its own method would have recorded it: its manager then nests as savepoints instead of
 * beginning (and committing) a transaction of its own.
 */
function setTransactionOf(runner: QueryRunner, active: boolean): void {
  const state = runner as unknown as { isTransactionActive: boolean; transactionDepth: number };
  state.isTransactionActive = active;
  state.transactionDepth = active ? 1 : 0;
}

/** The node-postgres client of a PostgreSQL query runner (connecting it). */
async function clientOf(runner: QueryRunner): Promise<PgClient> {
  return (await runner.connect()) as PgClient;
}

/**
 * SQLite through the better-sqlite3 handle that TypeORM opened. One connection serves the whole
 * process, so a transaction must not interleave with other requests' statements: a lock admits
 * either one transaction (or one TypeORM call) or plain statements, and statements are prepared
 * once and cached.
 */
export class SqliteDatabase extends Database {
  readonly kind = 'sqlite' as const;
  private readonly statements = new Map<string, PreparedStatement>();
  private lock: Promise<void> = Promise.resolve();
  private locked = false;
  private readonly db: BetterSqlite3.Database;

  constructor(private readonly dataSource: DataSource) {
    super();
    this.db = (dataSource.driver as unknown as { databaseConnection: BetterSqlite3.Database }).databaseConnection;
  }

  private statement(sql: string): PreparedStatement {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      prepared = prepare(this.db, sql);
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(sql, prepared);
    }
    return prepared;
  }

  private runQuery<T>(sql: Sql, params: readonly unknown[]): T[] {
    const prepared = this.statement(sqlText(sql));
    const bound = prepared.positional ? bindableList(params) : [bindByPosition(params)];
    if (prepared.rows === null) return (prepared.stmt.run(...bound), []) as T[];
    return readRows<T>(prepared, bound);
  }

  async queryBuilt<T>([sql, params]: readonly [Sql, readonly unknown[]]): Promise<T[]> {
    if (this.locked) await this.waitForLock();
    return this.runBuilt<T>(sql, params);
  }

  // TypeORM's SQLite placeholders are anonymous `?`: bound by position.
  private runBuilt<T>(sql: Sql, params: readonly unknown[]): T[] {
    const prepared = this.statement(sqlText(sql));
    if (prepared.rows === null) return (prepared.stmt.run(...bindableList(params)), []) as T[];
    return readRows<T>(prepared, bindableList(params));
  }

  private runExecute(sql: Sql, params: readonly unknown[]): number {
    const { stmt, positional } = this.statement(sqlText(sql));
    return (positional ? stmt.run(...bindableList(params)) : stmt.run(bindByPosition(params))).changes;
  }

  async query<T>(sql: Sql, params: readonly unknown[] = []): Promise<T[]> {
    if (this.locked) await this.waitForLock();
    return this.runQuery<T>(sql, params);
  }

  async execute(sql: Sql, params: readonly unknown[] = []): Promise<number> {
    if (this.locked) await this.waitForLock();
    return this.runExecute(sql, params);
  }

  private async waitForLock(): Promise<void> {
    while (this.locked) await this.lock;
  }

  /** Holds the connection for `fn` alone; returns its result. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    // No await between the check and the claim, so two holders can never both get in.
    while (this.locked) await this.lock;
    this.locked = true;
    let release!: () => void;
    this.lock = new Promise<void>((resolve) => (release = resolve));
    try {
      return await fn();
    } finally {
      this.locked = false;
      release();
    }
  }

  withManager<T>(fn: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.exclusive(() => fn(this.dataSource.manager));
  }

  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    let ended = false;
    const open = () => {
      if (ended) throw new TransactionEndedError();
    };
    const tx: Transaction = {
      manager: this.dataSource.manager,
      query: async <R>(sql: Sql, params: readonly unknown[] = []) => (open(), this.runQuery<R>(sql, params)),
      execute: async (sql: Sql, params: readonly unknown[] = []) => (open(), this.runExecute(sql, params)),
      queryBuilt: async <R>([sql, params]: readonly [Sql, readonly unknown[]]) => (
        open(),
        this.runBuilt<R>(sql, params)
      ),
      // In-process, there is no round trip to save; the contract is PostgreSQL's: committed here.
      queryAndCommit: async <R>(sql: Sql, params: readonly unknown[] = []) => {
        open();
        const rows = this.runQuery<R>(sql, params);
        this.statement('COMMIT').stmt.run();
        ended = true;
        return rows;
      },
    };
    return this.exclusive(async () => {
      this.statement('BEGIN IMMEDIATE').stmt.run();
      try {
        const result = await fn(tx);
        if (!ended) this.statement('COMMIT').stmt.run();
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.statement('ROLLBACK').stmt.run();
        throw err;
      }
    });
  }
}

/** A cached statement, and whether its parameters bind by position (see `prepare`). */
interface PreparedStatement {
  readonly stmt: BetterSqlite3.Statement;
  readonly positional: boolean;
  /** How a statement that returns rows makes them (see `RowMaker`); null for one that returns none. */
  rows: RowMaker | null;
}

/**
 * Rows as objects, built from better-sqlite3's raw arrays by a function compiled for the
 * statement's columns: one object literal a row. better-sqlite3's own objects are set a property
 * at a time from C++, which took more than half of a history page's read (51 rows of 26 columns:
 * 360 µs as objects, 200 µs as arrays made into objects here; issue 13).
 */
interface RowMaker {
  /** The columns the function was compiled for. */
  readonly width: number;
  readonly make: (values: unknown[]) => unknown;
}

/**
 * A statement's rows as objects keyed by column name, as better-sqlite3 would give them (a later
 * column of the same name wins, as there). SQLite prepares a statement again when the schema
 * changes under it (`SELECT *` after `ALTER TABLE ... ADD COLUMN`), so rows of another width
 * compile the maker again from the statement's new columns.
 */
function readRows<T>(prepared: PreparedStatement, bound: readonly unknown[]): T[] {
  const values = prepared.stmt.all(...bound) as unknown[][];
  if (values.length === 0) return [];
  let maker = prepared.rows!;
  // Never run again to fix this: a statement with RETURNING would write twice.
  if (values[0]!.length !== maker.width) maker = prepared.rows = rowMaker(prepared.stmt)!;
  const rows = new Array<T>(values.length);
  for (let i = 0; i < values.length; i++) rows[i] = maker.make(values[i]!) as T;
  return rows;
}

/**
 * The row maker of a statement that returns rows (null for one that does not). A column named
 * `__proto__` is written as a computed key: the plain form would set the object's prototype (as
 * better-sqlite3's own objects do for a BLOB of that name).
 */
function rowMaker(stmt: BetterSqlite3.Statement): RowMaker | null {
  if (!stmt.reader) return null;
  const names = stmt.columns().map((c) => c.name);
  stmt.raw(true);
  const key = (name: string) => (name === '__proto__' ? `[${JSON.stringify(name)}]` : JSON.stringify(name));
  const fields = names.map((name, i) => `${key(name)}: v[${i}]`).join(', ');
  // Compiled once per statement text, from column names only (JSON-quoted): no value is ever code.
  const make = new Function('v', `return { ${fields} };`) as (values: unknown[]) => unknown;
  return { width: names.length, make };
}

/**
 * Prepares SQL written with PostgreSQL's `$1, $2...`. When each number appears once and in order
 * (most statements), they become anonymous `?` bound from an array: better-sqlite3 binds those
 * about a third faster than named ones, which counts on the per-row statements of the write path.
 * Otherwise (a number used twice) they stay named parameters, bound by `bindByPosition`.
 */
function prepare(db: BetterSqlite3.Database, sql: string): PreparedStatement {
  const numbers = [...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
  const positional = numbers.every((n, i) => n === i + 1);
  const stmt = db.prepare(positional && numbers.length > 0 ? sql.replace(/\$\d+/g, '?') : sql);
  return { stmt, positional, rows: rowMaker(stmt) };
}

/**
 * Parameters as better-sqlite3's named parameters "1", "2"... (what `$1, $2` name in SQLite).
 * better-sqlite3 binds no booleans or Dates: they get the values PostgreSQL would store.
 */
function bindByPosition(params: readonly unknown[]): Record<string, unknown> {
  const bound: Record<string, unknown> = {};
  for (let i = 0; i < params.length; i++) bound[i + 1] = bindable(params[i]);
  return bound;
}

/**
 * The parameters as better-sqlite3 binds them; the list itself when none needs converting (the
 * write path's rows, numbers and strings only: no copy of each).
 */
function bindableList(params: readonly unknown[]): readonly unknown[] {
  for (let i = 0; i < params.length; i++) {
    const value = params[i];
    if (typeof value === 'boolean' || value instanceof Date) return params.map(bindable);
  }
  return params;
}

function bindable(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.getTime();
  return value;
}

/** Wraps an initialised DataSource in the Database that the engine and the api's repositories use. */
export function databaseFor(dataSource: DataSource, options: DatabaseOptions = {}): Database {
  return dataSource.options.type === 'postgres'
    ? new PostgresDatabase(dataSource, options)
    : new SqliteDatabase(dataSource);
}

/** `$1, $2, ... $n` from `start`: the placeholders of a list. */
export function placeholders(count: number, start = 1): string {
  return Array.from({ length: count }, (_, i) => `$${start + i}`).join(', ');
}

/** True for a unique-constraint violation on either database. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const driverCode = (err as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  return [code, driverCode].some(
    (c) => c === '23505' || c === 'SQLITE_CONSTRAINT_UNIQUE' || c === 'SQLITE_CONSTRAINT_PRIMARYKEY',
  );
}

/** Errors meaning the database cannot be reached (PostgreSQL codes, socket errors, pool timeouts). */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string; driverError?: { code?: string } } | null;
  const code = e?.code ?? e?.driverError?.code ?? '';
  if (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      '57P01',
      '57P02',
      '57P03',
      '08000',
      '08001',
      '08003',
      '08006',
      'SQLITE_BUSY',
    ].includes(code)
  )
    return true;
  // TypeORM releases a query runner whose connection broke; a transaction's next query then throws this.
  if ((err as Error | null)?.name === 'QueryRunnerAlreadyReleasedError') return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|database is locked/i.test(
    e?.message ?? '',
  );
}

/** Epoch milliseconds from a BIGINT column (PostgreSQL returns them as strings). */
export function millis(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

/** A Date from a nullable BIGINT column. */
export function dateOrNull(value: number | string | null): Date | null {
  return value === null ? null : new Date(millis(value));
}
