import { useId } from 'react';
import { JOB_ACTIONS, JOB_STATUSES, isJobAction } from '@jobtrail/domain';
import type { HistoryFilters } from '../api/endpoints.js';
import { StatusBadge } from '../components/status-badge.js';
import { hasFilters, toggleStatus } from './use-history-filters.js';

interface Props {
  readonly filters: HistoryFilters;
  readonly onChange: (filters: HistoryFilters) => void;
}

/** True when the range is backwards; the API would refuse it, so the form says so first. */
export function rangeIsInvalid(filters: HistoryFilters): boolean {
  return filters.from !== null && filters.to !== null && filters.from > filters.to;
}

/** Status (several), action and date range of the history. Every change applies at once. */
export function HistoryFiltersForm({ filters, onChange }: Props) {
  const id = useId();
  const invalidRange = rangeIsInvalid(filters);
  return (
    <form className="filters" aria-label="Filter the job history" onSubmit={(e) => e.preventDefault()}>
      <fieldset className="filter-statuses">
        <legend>Status</legend>
        {JOB_STATUSES.map((status) => (
          <label key={status} className="checkbox">
            <input
              type="checkbox"
              name="status"
              value={status}
              checked={filters.statuses.includes(status)}
              onChange={() => onChange({ ...filters, statuses: toggleStatus(filters.statuses, status) })}
            />
            <StatusBadge status={status} />
          </label>
        ))}
      </fieldset>
      <div className="filter-row">
        <div className="field">
          <label htmlFor={`${id}-action`}>Action</label>
          <select
            id={`${id}-action`}
            value={filters.action ?? ''}
            onChange={(e) => onChange({ ...filters, action: isJobAction(e.target.value) ? e.target.value : null })}
          >
            <option value="">All actions</option>
            {JOB_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-from`}>From</label>
          <input
            id={`${id}-from`}
            type="date"
            value={filters.from ?? ''}
            max={filters.to ?? undefined}
            aria-invalid={invalidRange || undefined}
            aria-describedby={invalidRange ? `${id}-range` : undefined}
            onChange={(e) => onChange({ ...filters, from: e.target.value || null })}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-to`}>To</label>
          <input
            id={`${id}-to`}
            type="date"
            value={filters.to ?? ''}
            min={filters.from ?? undefined}
            aria-invalid={invalidRange || undefined}
            aria-describedby={invalidRange ? `${id}-range` : undefined}
            onChange={(e) => onChange({ ...filters, to: e.target.value || null })}
          />
        </div>
        {hasFilters(filters) && (
          <button
            type="button"
            className="clear-filters"
            onClick={() => onChange({ statuses: [], action: null, from: null, to: null })}
          >
            Clear filters
          </button>
        )}
      </div>
      {invalidRange && (
        <p id={`${id}-range`} className="field-error" role="alert">
          “From” must not be after “To”.
        </p>
      )}
    </form>
  );
}
