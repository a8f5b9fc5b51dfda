import { useState, type ReactNode } from 'react';
import { ConfirmDialog } from './confirm-dialog.js';

interface Props {
  /** The button that asks, e.g. "Purge". */
  readonly label: string;
  /** The question, e.g. "Delete all accounts and transactions of this connection?" */
  readonly question: string;
  /** The dialog's title; the question when not given. */
  readonly title?: string;
  /** What else the dialog says (what is lost, that it cannot be undone). */
  readonly details?: ReactNode;
  readonly confirmLabel: string;
  readonly onConfirm: () => void;
  /** Called when the dialog opens, e.g. to load what will be lost. */
  readonly onOpen?: () => void;
  readonly disabled?: boolean;
  readonly describedBy?: string;
  readonly className?: string;
  /** An accessible name for the trigger when its text alone is ambiguous (a row's button). */
  readonly ariaLabel?: string;
  readonly danger?: boolean;
}

/** An action behind a confirmation dialog whose initial focus is on the safe answer. */
export function ConfirmButton({
  label,
  question,
  title,
  details,
  confirmLabel,
  onConfirm,
  onOpen,
  disabled,
  describedBy,
  className = 'button-danger',
  ariaLabel,
  danger = true,
}: Props) {
  const [asking, setAsking] = useState(false);
  return (
    <>
      <button
        type="button"
        className={className}
        disabled={disabled}
        aria-describedby={describedBy}
        aria-label={ariaLabel}
        aria-haspopup="dialog"
        onClick={() => {
          onOpen?.();
          setAsking(true);
        }}
      >
        {label}
      </button>
      {asking && (
        <ConfirmDialog
          title={title ?? question}
          question={question}
          confirmLabel={confirmLabel}
          danger={danger}
          onCancel={() => setAsking(false)}
          onConfirm={() => {
            setAsking(false);
            onConfirm();
          }}
        >
          {details}
        </ConfirmDialog>
      )}
    </>
  );
}
