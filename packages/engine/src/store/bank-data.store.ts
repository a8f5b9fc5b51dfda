import { uuidv7 } from '../ids.js';
import { placeholders, type Database } from '../database/database.js';
import type { InstitutionAccount, InstitutionTransaction } from '../connectors/connector.js';

const CHUNK = 200;

/** Accounts and transactions fetched for connections: written by refresh, deleted by purge. */
export class BankDataStore {
  constructor(private readonly db: Database) {}

  /** Upserts by the institution's ids: a second refresh updates rows instead of duplicating them. */
  async upsertAccounts(connectionId: string, accounts: readonly InstitutionAccount[]): Promise<number> {
    if (accounts.length === 0) return 0;
    const now = Date.now();
    await this.db.transaction(async (tx) => {
      for (let i = 0; i < accounts.length; i += CHUNK) {
        const chunk = accounts.slice(i, i + CHUNK);
        await tx.execute(
          `INSERT INTO accounts (id, connection_id, external_id, name, currency, balance_cents, updated_at)
           VALUES ${chunk.map((_, r) => `(${placeholders(7, 7 * r + 1)})`).join(', ')}
           ON CONFLICT (connection_id, external_id) DO UPDATE SET name = excluded.name, currency = excluded.currency,
             balance_cents = excluded.balance_cents, updated_at = excluded.updated_at`,
          chunk.flatMap((a) => [uuidv7(), connectionId, a.externalId, a.name, a.currency, a.balanceCents, now]),
        );
      }
    });
    return accounts.length;
  }

  async upsertTransactions(connectionId: string, transactions: readonly InstitutionTransaction[]): Promise<number> {
    if (transactions.length === 0) return 0;
    await this.db.transaction(async (tx) => {
      const accounts = await tx.query<{ id: string; external_id: string }>(
        'SELECT id, external_id FROM accounts WHERE connection_id = $1',
        [connectionId],
      );
      const accountIds = new Map(accounts.map((a) => [a.external_id, a.id]));
      for (let i = 0; i < transactions.length; i += CHUNK) {
        const chunk = transactions.slice(i, i + CHUNK).filter((t) => accountIds.has(t.accountExternalId));
        if (chunk.length === 0) continue;
        await tx.execute(
          `INSERT INTO transactions (id, connection_id, account_id, external_id, amount_cents, description, booked_at)
           VALUES ${chunk.map((_, r) => `(${placeholders(7, 7 * r + 1)})`).join(', ')}
           ON CONFLICT (connection_id, external_id) DO UPDATE SET amount_cents = excluded.amount_cents,
             description = excluded.description, booked_at = excluded.booked_at`,
          chunk.flatMap((t) => [
            uuidv7(),
            connectionId,
            accountIds.get(t.accountExternalId),
            t.externalId,
            t.amountCents,
            t.description,
            t.bookedAt.getTime(),
          ]),
        );
      }
    });
    return transactions.length;
  }

  async deleteTransactions(connectionId: string): Promise<number> {
    return this.db.execute('DELETE FROM transactions WHERE connection_id = $1', [connectionId]);
  }

  async deleteAccounts(connectionId: string): Promise<number> {
    return this.db.execute('DELETE FROM accounts WHERE connection_id = $1', [connectionId]);
  }

  /** How many accounts and transactions a connection has. */
  async countFor(connectionId: string): Promise<{ accounts: number; transactions: number }> {
    const [a] = await this.db.query<{ n: number | string }>(
      'SELECT COUNT(*) AS n FROM accounts WHERE connection_id = $1',
      [connectionId],
    );
    const [t] = await this.db.query<{ n: number | string }>(
      'SELECT COUNT(*) AS n FROM transactions WHERE connection_id = $1',
      [connectionId],
    );
    return { accounts: Number(a?.n ?? 0), transactions: Number(t?.n ?? 0) };
  }
}
