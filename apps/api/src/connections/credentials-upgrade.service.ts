import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/tokens.js';
import { Database } from '@jobtrail/engine';
import { DataSource } from 'typeorm';
import { ConnectionEntity } from '../persistence/entities.js';
import { CredentialsCipher } from './credentials-cipher.js';

/** Connections re-encrypted per round. */
const BATCH = 200;

/**
 * Rewrites credentials stored in the legacy format (`v1`: not bound to their connection) as `v2`
 * (tenant and connection ids as associated data), once, in the background after start-up, in
 * batches by id. Each row is replaced only if it still holds the ciphertext that was read (a
 * concurrent credentials change wins), so several processes may run it at once. Rows that do not
 * decrypt (another key) are left as they are and reported. Legacy rows keep decrypting meanwhile.
 */
@Injectable()
export class CredentialsUpgrade implements OnApplicationBootstrap, OnApplicationShutdown {
  private stopped = false;
  /** The background run (tests await it). */
  done: Promise<number> = Promise.resolve(0);

  constructor(
    private readonly db: Database,
    private readonly dataSource: DataSource,
    private readonly cipher: CredentialsCipher,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    // Part of the WorkerModule: workers (and the all-in-one process) do the housekeeping.
    this.done = this.run().catch((err: unknown) => {
      this.log.warn({ err: { message: (err as Error).message } }, 'credentials upgrade failed; retried at next start');
      return 0;
    });
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  /** Re-encrypts every legacy row; returns how many were rewritten. */
  async run(): Promise<number> {
    let after = '';
    let upgraded = 0;
    let unreadable = 0;
    while (!this.stopped) {
      const rows = await this.db.queryBuilt<{ id: string; tenant_id: string; credentials_enc: string }>(
        this.dataSource
          .createQueryBuilder()
          .select(['c.id AS id', 'c.tenant_id AS tenant_id', 'c.credentials_enc AS credentials_enc'])
          .from(ConnectionEntity, 'c')
          .where("c.credentials_enc LIKE 'v1.%' AND c.id > :after", { after })
          .orderBy('c.id')
          .limit(BATCH)
          .getQueryAndParameters(),
      );
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      for (const row of rows) {
        const context = { tenantId: row.tenant_id, connectionId: row.id };
        let next: string;
        try {
          next = this.cipher.encrypt(this.cipher.decrypt(row.credentials_enc, context), context);
        } catch {
          unreadable++;
          continue;
        }
        // Only if the row did not change meanwhile (new credentials written since the read win).
        const res = await this.db.withManager((m) =>
          m.update(ConnectionEntity, { id: row.id, credentials_enc: row.credentials_enc }, { credentials_enc: next }),
        );
        upgraded += res.affected ?? 0;
      }
    }
    if (upgraded > 0 || unreadable > 0)
      this.log.info({ upgraded, unreadable }, 'legacy credentials re-encrypted bound to their connection');
    return upgraded;
  }
}
