import { useEffect, useState } from 'react';
import { copyText } from '../lib/clipboard.js';

interface Props {
  readonly text: string;
  /** Names what is copied, for the accessible label ("Copy job ID"). */
  readonly label: string;
  readonly children?: string;
  readonly className?: string;
}

/** Copies `text`; the visible feedback is also announced, since a copy has no other visible effect. */
export function CopyButton({ text, label, children = 'Copy', className = 'button-small' }: Props) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = setTimeout(() => setState('idle'), 2_000);
    return () => clearTimeout(timer);
  }, [state]);
  return (
    <button
      type="button"
      className={`copy-button ${className}`}
      aria-label={label}
      title={label}
      onClick={() => void copyText(text).then((ok) => setState(ok ? 'copied' : 'failed'))}
    >
      <span aria-live="polite">{state === 'copied' ? 'Copied ✓' : state === 'failed' ? 'Copy failed' : children}</span>
    </button>
  );
}
