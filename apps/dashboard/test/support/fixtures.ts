import type { ApiKeyRole, ConnectionWire, JobDetailWire, JobSummaryWire, WhoAmIWire } from '@jobtrail/domain';

/** Valid UUIDv7-shaped ids (the wire schemas check version and variant bits). */
export function uuid(n: number, prefix = '01a2228f-6ede-7000-85e0'): string {
  return `${prefix}-${n.toString(16).padStart(12, '0')}`;
}

export const CONNECTION_ID = uuid(1, '01a2228f-0000-7000-8000');
export const TENANT_ID = uuid(1, '01a2228f-1111-7000-8000');

export function me(role: ApiKeyRole = 'admin'): WhoAmIWire {
  return {
    tenant_id: TENANT_ID,
    tenant_name: 'acme',
    key_id: uuid(2, '01a2228f-1111-7000-8000'),
    key_name: `${role} key`,
    role,
  };
}

export function job(overrides: Partial<JobSummaryWire> = {}): JobSummaryWire {
  return {
    job_id: uuid(100),
    connection_id: CONNECTION_ID,
    action: 'refresh',
    status: 'success',
    date: '2024-12-10T04:33:00.000Z',
    started_at: '2024-12-10T04:33:01.000Z',
    finished_at: '2024-12-10T04:33:03.500Z',
    updated_at: '2024-12-10T04:33:03.500Z',
    attempt: 1,
    max_attempts: 3,
    run_at: '2024-12-10T04:33:00.000Z',
    error: null,
    retry_of: null,
    cancel_requested: false,
    challenge: null,
    version: 4,
    ...overrides,
  };
}

/** `count` jobs, newest first, one minute apart, ids counting down from `from`. */
export function jobs(count: number, from = 10_000, overrides: Partial<JobSummaryWire> = {}): JobSummaryWire[] {
  const start = Date.parse('2024-12-10T12:00:00.000Z');
  return Array.from({ length: count }, (_, i) => {
    const at = new Date(start - i * 60_000).toISOString();
    const end = new Date(start - i * 60_000 + 2_000).toISOString();
    return job({ job_id: uuid(from - i), date: at, started_at: at, finished_at: end, updated_at: end, ...overrides });
  });
}

export function detail(overrides: Partial<JobDetailWire> = {}): JobDetailWire {
  return {
    ...job(),
    steps: [
      {
        name: 'verify-credentials',
        status: 'success',
        started_at: '2024-12-10T04:33:01.000Z',
        finished_at: '2024-12-10T04:33:01.500Z',
        error: null,
      },
      {
        name: 'retrieve-accounts',
        status: 'success',
        started_at: '2024-12-10T04:33:01.500Z',
        finished_at: '2024-12-10T04:33:02.000Z',
        error: null,
      },
      {
        name: 'retrieve-transactions',
        status: 'success',
        started_at: '2024-12-10T04:33:02.000Z',
        finished_at: '2024-12-10T04:33:03.500Z',
        error: null,
      },
    ],
    result: { accounts: 3, transactions: 412 },
    requested_by: { id: uuid(2, '01a2228f-1111-7000-8000'), name: 'admin key' },
    deadline_at: null,
    cancel_requested_at: null,
    expires_at: null,
    transitions: [
      {
        from: 'pending',
        to: 'processing',
        at: '2024-12-10T04:33:01.000Z',
        reason: 'claimed',
        actor: 'worker-1',
        attempt: 1,
      },
      {
        from: 'processing',
        to: 'success',
        at: '2024-12-10T04:33:03.500Z',
        reason: 'completed',
        actor: 'worker-1',
        attempt: 1,
      },
    ],
    attempts: [
      {
        attempt: 1,
        started_at: '2024-12-10T04:33:01.000Z',
        finished_at: '2024-12-10T04:33:03.500Z',
        outcome: 'success',
        error: null,
        worker: 'worker-1',
        steps: [],
      },
    ],
    ...overrides,
  };
}

export function connection(overrides: Partial<ConnectionWire> = {}): ConnectionWire {
  return {
    connection_id: CONNECTION_ID,
    institution_id: 'sandbox',
    login_id: 'user-ok',
    user_ref: 'customer-42',
    created_at: '2024-12-01T09:00:00.000Z',
    status: 'active',
    credentials_updated_at: null,
    refresh_every_hours: null,
    next_refresh_at: null,
    latest_job: job(),
    ...overrides,
  };
}
