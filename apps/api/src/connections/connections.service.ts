import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import {
  connectionStatusAfterCredentialsUpdate,
  firstRefreshAt,
  isConnectionStatus,
  toJobSummaryWire,
  type ConnectionListQuery,
  type ConnectionWire,
  type CreateConnectionBody,
  type JobSummaryWire,
  type UpdateConnectionBody,
} from '@jobtrail/domain';
import { ApiProblem } from '../common/api-problem.js';
import { ConnectorRegistry, Database, DatabaseClock, JobEventsBus, isUniqueViolation, uuidv7 } from '@jobtrail/engine';
import { decodeCursor, keysetPage, type Page } from '../common/cursor.js';
import type { AuthContext } from '../auth/auth-context.js';
import { APP_CONFIG } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { recordIdempotentAnswer } from '../idempotency/idempotency-scope.js';
import { JobsRepository } from '../jobs/jobs.repository.js';
import { JobsService } from '../jobs/jobs.service.js';
import { ConnectionsRepository, connectionWire, type ConnectionListFilter } from './connections.repository.js';
import { CredentialsCipher } from './credentials-cipher.js';
import { LoginHasher } from './login-hasher.js';

/** The answer of a credentials or schedule update: `job` is the refresh verifying new credentials. */
export interface UpdatedConnection {
  readonly connection: ConnectionWire;
  readonly job?: JobSummaryWire;
  /** True when the refresh was started by this update (202); false when one was already active (200). */
  readonly created: boolean;
}

/** Connections: creation (with the first refresh), listing, reading, updates and deletion. */
@Injectable()
export class ConnectionsService implements OnApplicationBootstrap {
  private readonly logins: LoginHasher;
  private readonly autoRefreshHours: number | null;

  constructor(
    private readonly db: Database,
    private readonly connections: ConnectionsRepository,
    private readonly jobs: JobsService,
    private readonly jobRows: JobsRepository,
    private readonly cipher: CredentialsCipher,
    private readonly connectors: ConnectorRegistry,
    private readonly bus: JobEventsBus,
    private readonly clock: DatabaseClock,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.logins = new LoginHasher(config.encryptionKey);
    this.autoRefreshHours = config.autoRefreshHours ?? null;
  }

  /** Connections created before logins were hashed become findable by login. */
  async onApplicationBootstrap(): Promise<void> {
    for (;;) {
      const batch = await this.connections.findUnhashedLogins(500);
      for (const c of batch) await this.connections.setLoginHash(c.id, this.logins.hash(c.login_id));
      if (batch.length < 500) return;
    }
  }

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
    // Its own schedule, or the tenant default (JOBTRAIL_AUTO_REFRESH_HOURS); null: on request only.
    const hours = body.refresh_every_hours === undefined ? this.autoRefreshHours : body.refresh_every_hours;
    const row = {
      id,
      tenant_id: auth.tenantId,
      institution_id: body.institution_id,
      login_id: body.login_id,
      login_hash: this.logins.hash(body.login_id),
      credentials_enc: this.cipher.encrypt({ password: body.password }, { tenantId: auth.tenantId, connectionId: id }),
      user_ref: body.user_ref ?? null,
      refresh_every_hours: hours,
      next_refresh_at: firstRefreshAt(hours, now, id),
      created_at: now,
    };
    const created = await this.db.transaction(async (tx) => {
      await this.connections.insertConnection(tx, row);
      const job = await this.jobs.insertNewJob(tx, auth, id, 'refresh', null);
      const answer = {
        connection: connectionWire({ ...row, status: 'pending', credentials_updated_at: null }, job.change.job),
        job: job.change.job,
      };
      // With an Idempotency-Key, the answer commits with the work: a retry can never create twice.
      await recordIdempotentAnswer(tx, 202, answer);
      return { job, answer };
    });
    await this.jobs.announceCreated(created.job);
    return created.answer;
  }

  /**
   * New credentials are stored encrypted and verified by a refresh: a new one, or the refresh
   * already pending or processing (its next attempt reads the new credentials). A schedule alone
   * changes nothing else.
   */
  async update(auth: AuthContext, connectionId: string, body: UpdateConnectionBody): Promise<UpdatedConnection> {
    if (body.password === undefined) {
      const hours = body.refresh_every_hours ?? null;
      const next = firstRefreshAt(hours, this.clock.now(), connectionId);
      if (!(await this.connections.updateSchedule(auth.tenantId, connectionId, hours, next)))
        throw ApiProblem.notFound('Connection');
      return { connection: await this.get(auth, connectionId), created: false };
    }
    const password = body.password;
    for (let tries = 0; tries < 5; tries++) {
      try {
        const outcome = await this.db.transaction(async (tx) => {
          const current = await this.connections.lockConnection(tx, auth.tenantId, connectionId);
          if (!current) throw ApiProblem.notFound('Connection');
          const status = isConnectionStatus(current.status) ? current.status : 'pending';
          await this.connections.updateCredentials(tx, connectionId, {
            credentials_enc: this.cipher.encrypt({ password }, { tenantId: auth.tenantId, connectionId }),
            // Strictly after any failure recorded so far: the retry guard compares the two.
            credentials_updated_at: Math.max(this.clock.now(), Number(current.credentials_updated_at ?? 0) + 1),
            status: connectionStatusAfterCredentialsUpdate(status),
            ...(body.login_id === undefined
              ? {}
              : { login_id: body.login_id, login_hash: this.logins.hash(body.login_id) }),
            ...(body.refresh_every_hours === undefined
              ? {}
              : {
                  refresh_every_hours: body.refresh_every_hours,
                  next_refresh_at: firstRefreshAt(body.refresh_every_hours, this.clock.now(), connectionId),
                }),
          });
          // No per-connection refresh limit here: replacing credentials is a deliberate act, and
          // the refresh is what verifies them.
          const active = await this.jobRows.findActiveJob(connectionId, 'refresh', tx);
          if (active) return { job: toJobSummaryWire(active), created: null };
          const created = await this.jobs.insertNewJob(tx, auth, connectionId, 'refresh', null, 'credentials-updated');
          return { job: created.change.job, created };
        });
        if (outcome.created) await this.jobs.announceCreated(outcome.created);
        return {
          connection: await this.get(auth, connectionId),
          job: outcome.job,
          created: outcome.created !== null,
        };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        // A refresh was started meanwhile: the next try answers with it.
      }
    }
    throw new ApiProblem('service-unavailable', 'The connection is too busy; retry shortly.');
  }

  async list(auth: AuthContext, query: ConnectionListQuery): Promise<Page<ConnectionWire>> {
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const filter: ConnectionListFilter = {
      status: query.status,
      institutionId: query.institution_id,
      userRef: query.user_ref,
      latestJobStatus: query.latest_job_status,
      search:
        query.q === undefined
          ? undefined
          : {
              loginHash: this.logins.hash(query.q),
              text: query.q,
              idPrefix: /^[0-9a-fA-F-]{1,36}$/.test(query.q) ? query.q.toLowerCase() : null,
            },
    };
    const rows = await this.connections.findConnectionsPage(auth.tenantId, filter, after, query.limit + 1);
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
