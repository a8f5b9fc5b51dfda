import { useEffect } from 'react';

/** Page titles tell screen-reader users (and tab strips) where a navigation landed. */
export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Jobtrail`;
  }, [title]);
}
