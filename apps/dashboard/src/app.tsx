import { lazy, Suspense, useState } from 'react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { BrowserRouter, Route, Routes } from 'react-router';
import { ApiError } from './api/client.js';
import { AuthGate } from './auth/auth-gate.js';
import { Loading } from './components/loading.js';
import { NoticeProvider } from './components/notice-context.js';
import { ConnectionPage } from './connection/connection-page.js';
import { ConnectionsPage } from './connections/connections-page.js';
import { JobPage } from './jobs/job-page.js';
import { JobsPage } from './jobs-list/jobs-page.js';
import { KeysPage } from './keys/keys-page.js';
import { AppLayout } from './layout/app-layout.js';
import { NotFoundPage } from './layout/not-found-page.js';
import { ClockProvider } from './lib/clock-context.js';
import { LiveUpdatesProvider } from './live/live-updates-provider.js';
import { SearchResultsPage } from './search/search-results-page.js';
import { WebhooksPage } from './webhooks/webhooks-page.js';

// The overview is the one page with its own weight (chart, statistics); it loads on first visit.
const OverviewPage = lazy(() => import('./overview/overview-page.js').then((m) => ({ default: m.OverviewPage })));

/** Client errors (4xx) will not go away by asking again; network and 5xx errors get two more tries. */
function shouldRetry(failures: number, error: unknown): boolean {
  if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) return false;
  return failures < 2;
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: shouldRetry, staleTime: 10_000, refetchOnWindowFocus: true },
      mutations: { retry: false },
    },
  });
}

/** The routes of the signed-in app; deep links work because the server falls back to index.html. */
export function AppRoutes() {
  return (
    <Routes>
      <Route element={<AppLayout />}>
        <Route index element={<ConnectionsPage />} />
        <Route path="connections/:connectionId" element={<ConnectionPage />} />
        <Route path="jobs" element={<JobsPage />} />
        <Route path="jobs/:jobId" element={<JobPage />} />
        <Route path="search" element={<SearchResultsPage />} />
        <Route path="keys" element={<KeysPage />} />
        <Route path="webhooks" element={<WebhooksPage />} />
        <Route
          path="overview"
          element={
            <Suspense fallback={<Loading label="Loading the overview…" />}>
              <OverviewPage />
            </Suspense>
          }
        />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

/** The whole dashboard: server state, session, router, live updates. */
export function App({ live = true }: { readonly live?: boolean }) {
  const [queryClient] = useState(createQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <ClockProvider>
        <AuthGate>
          <BrowserRouter>
            <NoticeProvider>
              <LiveUpdatesProvider enabled={live}>
                <AppRoutes />
              </LiveUpdatesProvider>
            </NoticeProvider>
          </BrowserRouter>
        </AuthGate>
      </ClockProvider>
    </QueryClientProvider>
  );
}
