import { NavLink, Outlet } from 'react-router';
import { useCan, useSession } from '../auth/auth-context.js';
import { LiveIndicator } from '../live/live-indicator.js';
import { SearchBox } from '../search/search-box.js';

/** The frame of every signed-in page: brand, navigation, job search, live status, who is signed in. */
export function AppLayout() {
  const { me, signOut } = useSession();
  const admin = useCan('admin');
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <div className="header-row">
          <NavLink to="/" className="brand-link" aria-label="Jobtrail home">
            <h1 className="brand">Jobtrail</h1>
          </NavLink>
          <nav aria-label="Main" className="main-nav">
            <NavLink to="/" end>
              Connections
            </NavLink>
            <NavLink to="/jobs" end>
              Jobs
            </NavLink>
            <NavLink to="/overview">Overview</NavLink>
            {admin && <NavLink to="/keys">API keys</NavLink>}
            {admin && <NavLink to="/webhooks">Webhooks</NavLink>}
          </nav>
          <LiveIndicator />
        </div>
        <div className="header-row header-tools">
          <SearchBox />
          <div className="who" aria-label="Signed in">
            <span className="who-name" title={`Key "${me.key_name}" of tenant ${me.tenant_id}`}>
              <span className="who-label">Tenant</span> <strong className="tenant-name">{me.tenant_name}</strong> ·{' '}
              <span className="role">{me.role}</span>
            </span>
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
