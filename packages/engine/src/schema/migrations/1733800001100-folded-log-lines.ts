import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The log lines a job change records (a step's lines, written with the change that ends the step)
 * are stored as a JSON array in `lines` of the change's own event row (its transition, its
 * creation) or, without one, of one `log` row, instead of a row a line: a no-op refresh wrote five
 * event rows, now two. Rows written before keep one line each in `level`, `step` and `message`,
 * and read as they did.
 */
export class FoldedLogLines1733800001100 implements MigrationInterface {
  name = 'FoldedLogLines1733800001100';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "job_events" ADD "lines" text');
  }

  async down(q: QueryRunner): Promise<void> {
    // A folded row becomes one row per line again, so nothing the logs endpoint shows is lost.
    // (Ids of the unfolded lines are new, drawn after every existing event: a rollback's cursor
    // may replay lines, never skip one.)
    const postgres = q.connection.driver.options.type === 'postgres';
    const p = (n: number) => (postgres ? `$${n}` : '?');
    const folded = await q.query(
      'SELECT id, kind, job_id, tenant_id, connection_id, lines FROM "job_events" WHERE "lines" IS NOT NULL ORDER BY id',
    );
    for (const row of folded as Array<{
      id: unknown;
      kind: string;
      job_id: string;
      tenant_id: string;
      connection_id: string;
      lines: string;
    }>) {
      for (const line of JSON.parse(row.lines) as Array<{
        at: number;
        level: string;
        step: string | null;
        message: string;
      }>) {
        await q.query(
          `INSERT INTO "job_events" (job_id, tenant_id, connection_id, kind, at, level, step, message)
            VALUES (${p(1)}, ${p(2)}, ${p(3)}, 'log', ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)})`,
          [row.job_id, row.tenant_id, row.connection_id, line.at, line.level, line.step, line.message],
        );
      }
      // A folded `log` row is replaced by its lines; a transition or creation only loses them.
      if (row.kind === 'log') await q.query(`DELETE FROM "job_events" WHERE id = ${p(1)}`, [row.id]);
    }
    await q.query('ALTER TABLE "job_events" DROP COLUMN "lines"');
  }
}
