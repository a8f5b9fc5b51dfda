import { Injectable } from '@nestjs/common';
import {
  toJobSummaryWire,
  type ConnectionWire,
  type CreateConnectionBody,
  type JobSummaryWire,
  type PageQuery,
} from '@jobtrail/domain';
import { ApiProblem } from '../common/api-problem.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { uuidv7 } from '../common/ids.js';
import type { AuthContext } from '../auth/auth-context.js';
import { Database } from '../database/database.js';
import { JobsService, type Page } from '../jobs/jobs.service.js';
import { ConnectorRegistry } from '../worker/connector.js';
import { ConnectionsRepository } from './connections.repository.js';
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
    const now = Date.now();
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
      return this.jobs.insertNewJob(tx, auth, id, 'refresh', null);
    });
    await this.jobs.announceCreated(auth.tenantId, created);
    const summary = toJobSummaryWire(created.job);
    return {
      connection: {
        connection_id: id,
        institution_id: body.institution_id,
        login_id: body.login_id,
        user_ref: body.user_ref ?? null,
        created_at: new Date(now).toISOString(),
        latest_job: summary,
      },
      job: summary,
    };
  }

  async list(auth: AuthContext, query: PageQuery): Promise<Page<ConnectionWire>> {
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const rows = await this.connections.findConnectionsPage(auth.tenantId, after, query.limit + 1);
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return {
      items: items.map((r) => r.wire),
      nextCursor:
        rows.length > query.limit && last
          ? encodeCursor({ createdAt: last.createdAt, id: last.wire.connection_id })
          : null,
    };
  }

  async get(auth: AuthContext, connectionId: string): Promise<ConnectionWire> {
    const view = await this.connections.findConnection(auth.tenantId, connectionId);
    if (!view) throw ApiProblem.notFound('Connection');
    return view.wire;
  }

  async delete(auth: AuthContext, connectionId: string): Promise<void> {
    if (!(await this.connections.deleteConnection(auth.tenantId, connectionId)))
      throw ApiProblem.notFound('Connection');
  }
}
