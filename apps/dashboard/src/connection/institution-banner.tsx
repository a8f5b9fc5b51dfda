import { useQuery } from '@tanstack/react-query';
import { fetchInstitutions } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi } from '../auth/auth-context.js';
import { DateTime } from '../components/date-time.js';

/**
 * A banner on a connection whose institution is failing for everyone (`GET /institutions`):
 * `down` (its circuit is open: jobs wait instead of failing) or `degraded`. Nothing otherwise.
 */
export function InstitutionBanner({ institutionId }: { readonly institutionId: string }) {
  const client = useApi();
  const institutions = useQuery({
    queryKey: queryKeys.institutions(),
    queryFn: ({ signal }) => fetchInstitutions(client, signal),
    refetchInterval: 30_000,
  });
  const health = institutions.data?.find((i) => i.institution_id === institutionId);
  if (!health || health.status === 'operational') return null;
  const rate = health.success_rate_1h === null ? null : Math.round(health.success_rate_1h * 100);
  return (
    <div className="notice notice-warning institution-banner" role="status" data-testid="institution-banner">
      <strong>
        {health.name} is {health.status === 'down' ? 'down' : 'degraded'}.
      </strong>{' '}
      {health.status === 'down'
        ? 'Its refreshes wait (no attempt is used) until it answers again; scheduled refreshes are deferred.'
        : `Only ${rate ?? 0} % of its ${health.jobs_1h} refreshes succeeded in the last hour, across all customers.`}
      {health.last_failure_at && (
        <>
          {' '}
          Last failure <DateTime iso={health.last_failure_at} />.
        </>
      )}
    </div>
  );
}
