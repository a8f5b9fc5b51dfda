import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';

/** How long a notice stays; it can also be dismissed at once. */
const NOTICE_MS = 10_000;

interface Notice {
  readonly id: number;
  readonly text: string;
}

const NoticeContext = createContext<((text: string) => void) | null>(null);

/**
 * Confirms the result of an action after the view that started it may be gone (a deleted
 * connection's page navigates away): one polite live region above every page.
 */
export function NoticeProvider({ children }: { readonly children: ReactNode }) {
  const [notices, setNotices] = useState<readonly Notice[]>([]);
  const notify = useCallback((text: string) => {
    setNotices((list) => [...list.slice(-2), { id: Date.now() + Math.random(), text }]);
  }, []);
  const dismiss = useCallback((id: number) => setNotices((list) => list.filter((n) => n.id !== id)), []);
  const value = useMemo(() => notify, [notify]);
  return (
    <NoticeContext.Provider value={value}>
      {children}
      {/* Always in the DOM, so screen readers announce what is added to it. */}
      <div className="toasts" role="status" aria-live="polite" data-testid="notices">
        {notices.map((n) => (
          <Toast key={n.id} notice={n} onDismiss={dismiss} />
        ))}
      </div>
    </NoticeContext.Provider>
  );
}

function Toast({ notice, onDismiss }: { readonly notice: Notice; readonly onDismiss: (id: number) => void }) {
  useEffect(() => {
    const timer = setTimeout(() => onDismiss(notice.id), NOTICE_MS);
    return () => clearTimeout(timer);
  }, [notice.id, onDismiss]);
  return (
    <p className="toast">
      <span>{notice.text}</span>
      <button type="button" className="button-link" aria-label="Dismiss notice" onClick={() => onDismiss(notice.id)}>
        ×
      </button>
    </p>
  );
}

/** Shows a notice that survives navigation. */
export function useNotify(): (text: string) => void {
  const notify = useContext(NoticeContext);
  if (!notify) throw new Error('useNotify() outside of <NoticeProvider>');
  return notify;
}
