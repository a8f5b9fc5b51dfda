import { useId, useState } from 'react';

interface Props {
  /** The button that asks, e.g. "Purge". */
  readonly label: string;
  /** The question, e.g. "Delete all accounts and transactions of this connection?" */
  readonly question: string;
  readonly confirmLabel: string;
  readonly onConfirm: () => void;
  readonly disabled?: boolean;
  readonly describedBy?: string;
  readonly className?: string;
}

/**
 * A destructive action behind an inline confirmation. Inline rather than `window.confirm`: it is
 * styled, keeps focus in the page and can be reached and tested like the rest of the UI.
 */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  onConfirm,
  disabled,
  describedBy,
  className = 'button-danger',
}: Props) {
  const [asking, setAsking] = useState(false);
  const id = useId();
  if (!asking) {
    return (
      <button
        type="button"
        className={className}
        disabled={disabled}
        aria-describedby={describedBy}
        onClick={() => setAsking(true)}
      >
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-labelledby={id}>
      <span id={id} className="confirm-question">
        {question}
      </span>
      <button
        type="button"
        className="button-danger"
        // The question appears where the button was; focus moves to its answer for keyboard users.
        autoFocus
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      {/* Not "Cancel": job panels have a "Cancel job" button and the two must not be confused. */}
      <button type="button" onClick={() => setAsking(false)}>
        Back
      </button>
    </span>
  );
}
