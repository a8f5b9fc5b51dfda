import { useId } from 'react';
import { CONNECTION_STATUSES, isConnectionStatus } from '@jobtrail/domain';
import {
  CONNECTION_STATUS_NAME,
  hasConnectionFilters,
  isInstitutionId,
  NO_CONNECTION_FILTERS,
  type ConnectionFilters,
} from './connections-filters.js';

interface Props {
  readonly filters: ConnectionFilters;
  readonly onChange: (filters: ConnectionFilters) => void;
  /** Institutions to suggest (those of the connections seen so far); any id may be typed. */
  readonly institutions: readonly string[];
}

/** Status, institution and "latest job failed": each change applies at once (and goes in the URL). */
export function ConnectionsFiltersForm({ filters, onChange, institutions }: Props) {
  const id = useId();
  const institutionValue = filters.institutionId ?? '';
  const applyInstitution = (raw: string) => {
    const value = raw.trim().toLowerCase();
    const next = isInstitutionId(value) ? value : null;
    if (next !== filters.institutionId) onChange({ ...filters, institutionId: next });
  };
  return (
    <form
      className="filters connection-filters"
      aria-label="Filter the connections"
      onSubmit={(e) => e.preventDefault()}
    >
      <div className="filter-row">
        <div className="field">
          <label htmlFor={`${id}-status`}>Status</label>
          <select
            id={`${id}-status`}
            value={filters.status ?? ''}
            onChange={(e) =>
              onChange({ ...filters, status: isConnectionStatus(e.target.value) ? e.target.value : null })
            }
          >
            <option value="">All</option>
            {CONNECTION_STATUSES.map((s) => (
              <option key={s} value={s}>
                {CONNECTION_STATUS_NAME[s]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-institution`}>Institution</label>
          <input
            // Uncontrolled while typing; a new value from the URL ("Clear filters") starts it afresh.
            key={institutionValue}
            id={`${id}-institution`}
            type="text"
            className="mono"
            list={`${id}-institutions`}
            defaultValue={institutionValue}
            placeholder="e.g. sandbox"
            spellCheck={false}
            autoComplete="off"
            // Applied when complete (Enter, leaving the field or picking a suggestion): half an id matches nothing.
            onBlur={(e) => applyInstitution(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') e.currentTarget.blur();
            }}
          />
          <datalist id={`${id}-institutions`}>
            {institutions.map((i) => (
              <option key={i} value={i} />
            ))}
          </datalist>
        </div>
        <label className="checkbox latest-failed">
          <input
            type="checkbox"
            checked={filters.latestJobFailed}
            onChange={(e) => onChange({ ...filters, latestJobFailed: e.target.checked })}
          />
          Latest job failed
        </label>
        {hasConnectionFilters(filters) && (
          <button type="button" className="clear-filters" onClick={() => onChange(NO_CONNECTION_FILTERS)}>
            Clear filters
          </button>
        )}
      </div>
    </form>
  );
}
