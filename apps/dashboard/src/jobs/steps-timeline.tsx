import { describeError, type JobDetailWire, type StepStatus } from '@jobtrail/domain';
import { assertNever } from '@jobtrail/domain';
import { formatDuration } from '../lib/format.js';

type Step = JobDetailWire['steps'][number];

function stepPresentation(status: StepStatus): { icon: string; label: string } {
  switch (status) {
    case 'pending':
      return { icon: '○', label: 'Not started' };
    case 'running':
      return { icon: '⏳', label: 'Running' };
    case 'success':
      return { icon: '✓', label: 'Done' };
    case 'failed':
      return { icon: '✗', label: 'Failed' };
    case 'skipped':
      return { icon: '–', label: 'Skipped' };
    case 'action-required':
      return { icon: '🔑', label: 'Waiting for a one-time code' };
    default:
      return assertNever(status, 'step status');
  }
}

/** "verify-credentials" → "Verify credentials". */
export function stepTitle(name: string): string {
  const words = name.replace(/-/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * Steps of an attempt as a vertical progress line (the current one's by default; `label` names an
 * earlier attempt's, so each list keeps its own accessible name).
 */
export function StepsTimeline({
  steps,
  now,
  label = 'Steps',
}: {
  readonly steps: readonly Step[];
  readonly now: number;
  readonly label?: string;
}) {
  return (
    <ol className="timeline" aria-label={label}>
      {steps.map((step) => {
        const { icon, label } = stepPresentation(step.status);
        const ms = step.started_at
          ? (step.finished_at ? Date.parse(step.finished_at) : now) - Date.parse(step.started_at)
          : null;
        return (
          <li key={step.name} className={`timeline-step step-${step.status}`}>
            <span className="timeline-icon" aria-hidden="true">
              {icon}
            </span>
            <span className="timeline-body">
              <span className="timeline-name">{stepTitle(step.name)}</span>{' '}
              <span className="timeline-status">
                {label}
                {ms !== null && step.status !== 'skipped' ? ` · ${formatDuration(ms)}` : ''}
              </span>
              {step.error && (
                <span className="timeline-error">
                  {describeError(step.error.code).title} (<code>{step.error.code}</code>)
                </span>
              )}
            </span>
          </li>
        );
      })}
    </ol>
  );
}
