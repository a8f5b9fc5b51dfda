import { JOB_STATUSES } from '@jobtrail/domain';
import { StatusBadge } from './components/status-badge.js';

export function App() {
  return (
    <div className="app">
      <header className="app-header">
        <h1>Jobtrail</h1>
      </header>
      <main>
        <section aria-labelledby="legend-title">
          <h2 id="legend-title">Statuses</h2>
          <ul className="legend" aria-label="Status legend">
            {JOB_STATUSES.map((status) => (
              <li key={status}>
                <StatusBadge status={status} />
              </li>
            ))}
          </ul>
        </section>
      </main>
    </div>
  );
}
