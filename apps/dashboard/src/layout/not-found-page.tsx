import { Link } from 'react-router';
import { useDocumentTitle } from '../lib/use-document-title.js';

export function NotFoundPage() {
  useDocumentTitle('Not found');
  return (
    <section>
      <h2>Page not found</h2>
      <p>
        Nothing lives at this address. <Link to="/">Back to the connections</Link>.
      </p>
    </section>
  );
}
