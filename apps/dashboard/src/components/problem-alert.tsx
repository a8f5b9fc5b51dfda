import type { Problem } from '@jobtrail/domain';
import { ApiError } from '../api/client.js';

/** The problem+json behind any error; errors that did not come from the API get a generic one. */
export function problemOf(error: unknown): Problem {
  if (error instanceof ApiError) return error.problem;
  return {
    type: 'about:blank',
    title: 'Something went wrong',
    status: 500,
    code: 'internal-error',
    detail: error instanceof Error ? error.message : String(error),
  };
}

interface Props {
  readonly error: unknown;
  /** What was being done, e.g. "Could not load the job history". */
  readonly context?: string;
  readonly onRetry?: () => void;
}

/** An error state: the server's own title and detail, field errors, and a way to try again. */
export function ProblemAlert({ error, context, onRetry }: Props) {
  const problem = problemOf(error);
  return (
    <div className="problem" role="alert">
      {context && <p className="problem-context">{context}</p>}
      <p className="problem-title">
        <strong>{problem.title}</strong> <code className="problem-code">{problem.code}</code>
      </p>
      {problem.detail && <p className="problem-detail">{problem.detail}</p>}
      {problem.errors && problem.errors.length > 0 && (
        <ul className="problem-errors">
          {problem.errors.map((e) => (
            <li key={`${e.field}:${e.message}`}>
              <code>{e.field}</code> {e.message}
            </li>
          ))}
        </ul>
      )}
      {problem.error_id && (
        <p className="muted">
          Error id for support: <code>{problem.error_id}</code>
        </p>
      )}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
