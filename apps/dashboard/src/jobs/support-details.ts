import type { JobDetailWire, WhoAmIWire } from '@jobtrail/domain';

/** The text a support person pastes into a ticket: every id needed to find the job, no secrets. */
export function supportDetails(job: JobDetailWire, me: WhoAmIWire): string {
  return [
    'Jobtrail support details',
    `Tenant: ${me.tenant_name} (${me.tenant_id})`,
    `Connection: ${job.connection_id}`,
    `Job: ${job.job_id}`,
    `Action: ${job.action}`,
    `Status: ${job.status}`,
    `Error code: ${job.error?.code ?? 'none'}`,
    `Attempt: ${job.attempt}/${job.max_attempts}`,
    `Retry of: ${job.retry_of ?? 'none'}`,
    `Triggered (UTC): ${job.date}`,
    `Copied at (UTC): ${new Date().toISOString()}`,
  ].join('\n');
}
