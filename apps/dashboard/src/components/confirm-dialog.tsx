import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode } from 'react';

interface Props {
  /** The dialog's title, e.g. "Delete connection us•••ok (customer-42)?" */
  readonly title: string;
  /** The question as one sentence: also the accessible name of the answer buttons' group. */
  readonly question: string;
  /** More to say: what is lost, what to do first. */
  readonly children?: ReactNode;
  readonly confirmLabel: string;
  /** The safe answer; keyboard focus starts here. */
  readonly cancelLabel?: string;
  readonly danger?: boolean;
  readonly onConfirm: () => void;
  readonly onCancel: () => void;
}

const FOCUSABLE =
  'button:not([disabled]), a[href], input:not([disabled]), select, textarea, [tabindex]:not([tabindex="-1"])';

/**
 * A modal confirmation. Focus starts on the SAFE answer, so a second Enter never confirms a
 * destructive action by accident; Escape and a click outside cancel; Tab stays inside; focus goes
 * back to what opened it.
 */
export function ConfirmDialog({
  title,
  question,
  children,
  confirmLabel,
  cancelLabel = 'Cancel',
  danger = true,
  onConfirm,
  onCancel,
}: Props) {
  const id = useId();
  const box = useRef<HTMLDivElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    cancel.current?.focus();
    return () => {
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Escape') {
      event.stopPropagation();
      onCancel();
      return;
    }
    if (event.key !== 'Tab' || !box.current) return;
    const items = [...box.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
    const first = items[0];
    const last = items.at(-1);
    if (!first || !last) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };

  return (
    <div className="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onCancel()}>
      <div
        ref={box}
        className="dialog card"
        role="dialog"
        aria-modal="true"
        aria-labelledby={`${id}-title`}
        aria-describedby={`${id}-question`}
        onKeyDown={onKeyDown}
      >
        <h2 id={`${id}-title`} className="dialog-title">
          {title}
        </h2>
        <div role="group" aria-labelledby={`${id}-question`} className="dialog-body">
          <p id={`${id}-question`} className="confirm-question">
            {question}
          </p>
          {children}
          <div className="button-row dialog-buttons">
            <button ref={cancel} type="button" className="button-primary" onClick={onCancel}>
              {cancelLabel}
            </button>
            <button type="button" className={danger ? 'button-danger' : 'button-secondary'} onClick={onConfirm}>
              {confirmLabel}
            </button>
          </div>
        </div>
      </div>
    </div>
  );
}
