import { Injectable } from '@nestjs/common';
import { type ConnectionWire, type CreateConnectionBody, type JobSummaryWire, type PageQuery } from '@jobtrail/domain';
import { ApiProblem } from '../common/api-problem.js';
import { ConnectorRegistry, Database, DatabaseClock, JobEventsBus, uuidv7 } from '@jobtrail/engine';
import { decodeCursor, keysetPage, type Page } from '../common/cursor.js';
import type { AuthContext } from '../auth/auth-context.js';
import { recordIdempotentAnswer } from '../idempotency/idempotency-scope.js';
import { JobsService } from '../jobs/jobs.service.js';
import { ConnectionsRepository, connectionWire } from './connections.repository.js';
import { CredentialsCipher } from './credentials-cipher.js';

/** Connections: creation (with the first refresh), listing, reading and deletion. */
@Injectable()
export class ConnectionsService {
  constructor(
    private readonly db: Database,
    private readonly connections: ConnectionsRepository,
    private readonly jobs: JobsService,
    private readonly cipher: CredentialsCipher,
    private readonly connectors: ConnectorRegistry,
    private readonly bus: JobEventsBus,
    private readonly clock: DatabaseClock,
  ) {}

  /** Creates the connection and its first `refresh` job, atomically. */
  async create(
    auth: AuthContext,
    body: CreateConnectionBody,
  ): Promise<{ connection: ConnectionWire; job: JobSummaryWire }> {
    // The institutions are those a connector is registered for: one list, the workers' own.
    if (!this.connectors.get(body.institution_id)) {
      throw ApiProblem.validation([
        {
          field: 'body.institution_id',
          message: `unknown institution; supported: ${this.connectors.institutionIds().join(', ')}`,
        },
      ]);
    }
    const now = this.clock.now();
    const id = uuidv7(now);
    const created = await this.db.transaction(async (tx) => {
      await this.connections.insertConnection(tx, {
        id,
        tenant_id: auth.tenantId,
        institution_id: body.institution_id,
        login_id: body.login_id,
        credentials_enc: this.cipher.encrypt(
          { password: body.password },
          { tenantId: auth.tenantId, connectionId: id },
        ),
        user_ref: body.user_ref ?? null,
        created_at: now,
      });
      const job = await this.jobs.insertNewJob(tx, auth, id, 'refresh', null);
      const answer = {
        connection: connectionWire(
          { id, institution_id: body.institution_id, login_id: body.login_id, user_ref: body.user_ref ?? null },
          now,
          job.change.job,
        ),
        job: job.change.job,
      };
      // With an Idempotency-Key, the answer commits with the work: a retry can never create twice.
      await recordIdempotentAnswer(tx, 202, answer);
      return { job, answer };
    });
    await this.jobs.announceCreated(created.job);
    return created.answer;
  }

  async list(auth: AuthContext, query: PageQuery): Promise<Page<ConnectionWire>> {
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const rows = await this.connections.findConnectionsPage(auth.tenantId, after, query.limit + 1);
    return keysetPage(
      rows,
      query.limit,
      (r) => ({ createdAt: r.createdAt, id: r.wire.connection_id }),
      (r) => r.wire,
    );
  }

  async get(auth: AuthContext, connectionId: string): Promise<ConnectionWire> {
    const view = await this.connections.findConnection(auth.tenantId, connectionId);
    if (!view) throw ApiProblem.notFound('Connection');
    return view.wire;
  }

  async delete(auth: AuthContext, connectionId: string): Promise<void> {
    if (!(await this.connections.deleteConnection(auth.tenantId, connectionId)))
      throw ApiProblem.notFound('Connection');
    // Live clients following its jobs stop waiting (the deletion is committed; a lost notice only
    // means they learn it from the 404 of their next read).
    await this.bus
      .publishConnectionDeleted({ type: 'connection.deleted', tenantId: auth.tenantId, connectionId })
      .catch(() => undefined);
  }
}
