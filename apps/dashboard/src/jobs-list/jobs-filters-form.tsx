import { useId } from 'react';
import { JOB_STATUSES, type JobStatus } from '@jobtrail/domain';
import { StatusBadge } from '../components/status-badge.js';
import {
  fromLocalInput,
  hasJobsFilters,
  JOBS_FILTER_FIELDS,
  jobsRangeIsInvalid,
  toLocalInput,
  type JobsFilterField,
  type JobsFilters,
} from './jobs-filters.js';

interface Props {
  readonly filters: JobsFilters;
  readonly onChange: (filters: JobsFilters) => void;
}

/** The Jobs page's filters, drawn from `JOBS_FILTER_FIELDS`; every change applies at once (and goes in the URL). */
export function JobsFiltersForm({ filters, onChange }: Props) {
  const id = useId();
  const invalidRange = jobsRangeIsInvalid(filters);
  const set = (param: string, value: string | null) => onChange({ ...filters, [param]: value ?? '' });
  const control = (field: JobsFilterField) => {
    const value = filters[field.param] ?? '';
    const inputId = `${id}-${field.param}`;
    switch (field.kind) {
      case 'statuses': {
        const chosen = value ? (value.split(',') as JobStatus[]) : [];
        return (
          <fieldset key={field.param} className="filter-statuses">
            <legend>{field.label}</legend>
            {JOB_STATUSES.map((status) => (
              <label key={status} className="checkbox">
                <input
                  type="checkbox"
                  name={field.param}
                  value={status}
                  checked={chosen.includes(status)}
                  onChange={() => {
                    const next = chosen.includes(status) ? chosen.filter((s) => s !== status) : [...chosen, status];
                    set(field.param, JOB_STATUSES.filter((s) => next.includes(s)).join(','));
                  }}
                />
                <StatusBadge status={status} />
              </label>
            ))}
          </fieldset>
        );
      }
      case 'select':
        return (
          <div key={field.param} className="field">
            <label htmlFor={inputId}>{field.label}</label>
            <select id={inputId} value={value} onChange={(e) => set(field.param, e.target.value || null)}>
              <option value="">All</option>
              {(field.options ?? []).map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          </div>
        );
      case 'datetime':
        return (
          <div key={field.param} className="field">
            <label htmlFor={inputId}>{field.label}</label>
            <input
              id={inputId}
              type="datetime-local"
              value={value ? toLocalInput(value) : ''}
              aria-invalid={invalidRange || undefined}
              aria-describedby={invalidRange ? `${id}-range` : undefined}
              onChange={(e) => set(field.param, fromLocalInput(e.target.value))}
            />
          </div>
        );
      case 'text':
        return (
          <div key={field.param} className="field">
            <label htmlFor={inputId}>{field.label}</label>
            <input
              // Uncontrolled while typing; a new value from the URL (e.g. "Clear filters") starts it afresh.
              key={value}
              id={inputId}
              type="text"
              className="mono"
              defaultValue={value}
              placeholder={field.placeholder}
              list={field.suggestions ? `${inputId}-suggestions` : undefined}
              spellCheck={false}
              autoComplete="off"
              // Applied when complete (Enter or leaving the field): half an id matches nothing.
              onBlur={(e) => set(field.param, field.valid(e.target.value.trim()) ? e.target.value.trim() : null)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') e.currentTarget.blur();
              }}
            />
            {field.suggestions && (
              <datalist id={`${inputId}-suggestions`}>
                {field.suggestions.map((s) => (
                  <option key={s} value={s} />
                ))}
              </datalist>
            )}
          </div>
        );
    }
  };
  const [statuses, ...rest] = JOBS_FILTER_FIELDS.filter((f) => f.kind === 'statuses').concat(
    JOBS_FILTER_FIELDS.filter((f) => f.kind !== 'statuses'),
  );
  return (
    <form className="filters" aria-label="Filter the jobs" onSubmit={(e) => e.preventDefault()}>
      {statuses && control(statuses)}
      <div className="filter-row">
        {rest.map(control)}
        {hasJobsFilters(filters) && (
          <button type="button" className="clear-filters" onClick={() => onChange({})}>
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
