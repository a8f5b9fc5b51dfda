import { Controller, Get, Injectable } from '@nestjs/common';
import { closedCircuit, institutionName, institutionStatus, type InstitutionWire } from '@jobtrail/domain';
import { ConnectorRegistry, Database, DatabaseClock, JobsStore } from '@jobtrail/engine';
import { DataSource } from 'typeorm';
import { ConnectionEntity, JobEntity } from '../persistence/entities.js';

/** The window institution health is computed over. */
const WINDOW_MS = 3_600_000;

/**
 * Each institution's health from the last hour of refreshes across all tenants, and its circuit
 * breaker (the domain's `institutionStatus`). Only counts leave: no tenant's data.
 */
@Injectable()
export class InstitutionsService {
  constructor(
    private readonly db: Database,
    private readonly dataSource: DataSource,
    private readonly store: JobsStore,
    private readonly connectors: ConnectorRegistry,
    private readonly clock: DatabaseClock,
  ) {}

  async list(): Promise<InstitutionWire[]> {
    const ids = this.connectors.institutionIds();
    const since = this.clock.now() - WINDOW_MS;
    // Finished refreshes of the hour through ix_jobs_finished (status, finished_at), each joined to
    // its connection by primary key.
    const qb = this.dataSource
      .createQueryBuilder()
      .select('c.institution_id', 'institution_id')
      .addSelect('j.status', 'status')
      .addSelect('COUNT(*)', 'n')
      .addSelect('MAX(j.finished_at)', 'last_at')
      .from(JobEntity, 'j')
      .innerJoin(ConnectionEntity.options.name, 'c', 'c.id = j.connection_id')
      .where('j.status IN (:...statuses)', { statuses: ['success', 'failed'] })
      .andWhere('j.finished_at >= :since', { since })
      .andWhere('j.action = :action', { action: 'refresh' })
      .groupBy('c.institution_id')
      .addGroupBy('j.status');
    const rows = await this.db.queryBuilt<{
      institution_id: string;
      status: string;
      n: number | string;
      last_at: number | string | null;
    }>(qb.getQueryAndParameters());
    const circuits = await this.store.loadCircuits(this.db, ids, false);
    return ids.map((id) => {
      const of = (status: string) => rows.find((r) => r.institution_id === id && r.status === status);
      const succeeded = Number(of('success')?.n ?? 0);
      const failed = of('failed');
      const finished = succeeded + Number(failed?.n ?? 0);
      return {
        institution_id: id,
        name: institutionName(id),
        status: institutionStatus(circuits.get(id) ?? closedCircuit(id), { succeeded, finished }),
        success_rate_1h: finished === 0 ? null : Math.round((succeeded / finished) * 1000) / 1000,
        jobs_1h: finished,
        last_failure_at: failed?.last_at == null ? null : new Date(Number(failed.last_at)).toISOString(),
      };
    });
  }
}

@Controller('institutions')
export class InstitutionsController {
  constructor(private readonly institutions: InstitutionsService) {}

  /** Every institution with its health (any role; across tenants, counts only). */
  @Get()
  list(): Promise<InstitutionWire[]> {
    return this.institutions.list();
  }
}
