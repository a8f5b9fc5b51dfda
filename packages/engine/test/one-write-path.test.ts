import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The one file allowed to change a job: the store's `commit`. */
const STORE = 'packages/engine/src/store/jobs.store.ts';
const MIGRATIONS = 'packages/engine/src/schema/migrations/';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'dist') return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx)$/.test(name) ? [path] : [];
  });
}

const SOURCES = ['apps/api/src', 'apps/dashboard/src', 'packages/engine/src', 'packages/domain/src'].flatMap((d) =>
  sourceFiles(join(ROOT, d)),
);

describe('one write path for every job change', () => {
  it('reads the sources of every package', () => {
    expect(SOURCES.length).toBeGreaterThan(50);
    expect(SOURCES.map((f) => relative(ROOT, f))).toContain(STORE);
  });

  it('no SQL outside the store updates the jobs table', () => {
    // Migrations may backfill a new column once, before any process runs: a schema change, not a
    // job change. Nothing else may.
    const offenders = SOURCES.filter((f) => relative(ROOT, f) !== STORE)
      .filter((f) => !relative(ROOT, f).startsWith(MIGRATIONS))
      .filter((f) => /\bUPDATE\s+"?jobs"?\s/i.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('no TypeORM call outside the store updates a job entity', () => {
    const offenders = SOURCES.filter((f) =>
      /\.(update|save|upsert|increment)\(\s*JobEntity\b/.test(readFileSync(f, 'utf8')),
    );
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('the store itself updates jobs in exactly one place: commit', () => {
    const store = readFileSync(join(ROOT, STORE), 'utf8');
    // The PostgreSQL batch statement; SQLite's row statement, whole or of the changed columns only.
    expect(store.match(/\bUPDATE jobs SET/g)).toHaveLength(3);
    expect(store).toMatch(/async commit\(/);
  });
});
