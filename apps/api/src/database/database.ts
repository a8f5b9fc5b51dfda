import type BetterSqlite3 from 'better-sqlite3';
import type { DataSource } from 'typeorm';

/** Runs SQL. Placeholders are `?` on both databases; results are plain rows. */
export interface SqlExecutor {
  /** Rows of a SELECT (or of `... RETURNING`). */
  query<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Rows changed by an INSERT/UPDATE/DELETE. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** The database behind TypeORM's DataSource, with transactions that work the same on both kinds. */
export abstract class Database implements SqlExecutor {
  abstract readonly kind: 'sqlite' | 'postgres';
  abstract query<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  abstract execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  abstract transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;

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

/** `?` placeholders to PostgreSQL's `$1, $2...` (our SQL never has `?` inside string literals). */
export function toPgPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** PostgreSQL through TypeORM's pool. */
export class PostgresDatabase extends Database {
  readonly kind = 'postgres' as const;
  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const res = await this.run(sql, params);
    return res.records as T[];
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    const res = await this.run(sql, params);
    return res.affected ?? 0;
  }

  private async run(sql: string, params: readonly unknown[]) {
    const runner = this.dataSource.createQueryRunner();
    try {
      return await runner.query(toPgPlaceholders(sql), [...params], true);
    } finally {
      await runner.release();
    }
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    const tx: SqlExecutor = {
      query: async <R>(sql: string, params: readonly unknown[] = []) =>
        (await runner.query(toPgPlaceholders(sql), [...params], true)).records as R[],
      execute: async (sql: string, params: readonly unknown[] = []) =>
        (await runner.query(toPgPlaceholders(sql), [...params], true)).affected ?? 0,
    };
    try {
      const result = await fn(tx);
      await runner.commitTransaction();
      return result;
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }
}

/**
 * SQLite through the better-sqlite3 handle that TypeORM opened. One connection serves the whole
 * process, so a transaction must not interleave with other requests' statements: a lock admits
 * either one transaction or plain statements, and statements are prepared once and cached.
 */
export class SqliteDatabase extends Database {
  readonly kind = 'sqlite' as const;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private lock: Promise<void> = Promise.resolve();
  private locked = false;

  constructor(private readonly db: BetterSqlite3.Database) {
    super();
  }

  private statement(sql: string): BetterSqlite3.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private runQuery<T>(sql: string, params: readonly unknown[]): T[] {
    const stmt = this.statement(sql);
    return (stmt.reader ? stmt.all(...params.map(bindable)) : (stmt.run(...params.map(bindable)), [])) as T[];
  }

  private runExecute(sql: string, params: readonly unknown[]): number {
    return this.statement(sql).run(...params.map(bindable)).changes;
  }

  async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    if (this.locked) await this.waitForLock();
    return this.runQuery<T>(sql, params);
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    if (this.locked) await this.waitForLock();
    return this.runExecute(sql, params);
  }

  private async waitForLock(): Promise<void> {
    while (this.locked) await this.lock;
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    // No await between the check and the claim, so two transactions can never both get in.
    while (this.locked) await this.lock;
    this.locked = true;
    let release!: () => void;
    this.lock = new Promise<void>((resolve) => (release = resolve));
    const tx: SqlExecutor = {
      query: async <R>(sql: string, params: readonly unknown[] = []) => this.runQuery<R>(sql, params),
      execute: async (sql: string, params: readonly unknown[] = []) => this.runExecute(sql, params),
    };
    try {
      this.db.prepare('BEGIN IMMEDIATE').run();
      try {
        const result = await fn(tx);
        this.db.prepare('COMMIT').run();
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.prepare('ROLLBACK').run();
        throw err;
      }
    } finally {
      this.locked = false;
      release();
    }
  }
}

/** better-sqlite3 binds no booleans or Dates: the same values as PostgreSQL get. */
function bindable(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.getTime();
  return value;
}

/** True for a unique-constraint violation on either database. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const driverCode = (err as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  return [code, driverCode].some(
    (c) => c === '23505' || c === 'SQLITE_CONSTRAINT_UNIQUE' || c === 'SQLITE_CONSTRAINT_PRIMARYKEY',
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
