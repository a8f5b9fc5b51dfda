// A typed client in a few lines: types generated from the OpenAPI document, calls with openapi-fetch.
//   npm install openapi-fetch && npm install -D openapi-typescript
//   npx openapi-typescript http://localhost:3000/api/docs/openapi.json -o jobtrail-api.d.ts
import createClient from 'openapi-fetch';
import type { components, paths } from './jobtrail-api.js';

type JobDetail = components['schemas']['JobDetail'];

// JSON answers and problems (the history also comes as text/csv, on `Accept: text/csv`).
const api = createClient<paths, 'application/json' | 'application/problem+json'>({
  baseUrl: process.env.JOBTRAIL_API ?? 'http://localhost:3000/api',
  headers: { Authorization: `Bearer ${process.env.JOBTRAIL_KEY}` },
});

// Start a refresh of a new connection (202: the job runs in the background).
const created = await api.POST('/connections', {
  body: { institution_id: 'sandbox', login_id: 'user-ok', password: 'any-password' },
});
if (created.error) throw new Error(`${created.error.code}: ${created.error.detail ?? created.error.title}`);
const jobId = created.data.job.job_id;

// Follow the job until it ends (or listen on /events, see the EventSource example).
let job: JobDetail;
for (;;) {
  const res = await api.GET('/jobs/{job_id}', { params: { path: { job_id: jobId } } });
  if (res.error) throw new Error(`${res.error.code}: ${res.error.title}`);
  job = res.data;
  if (job.status !== 'pending' && job.status !== 'processing') break;
  await new Promise((resolve) => setTimeout(resolve, 500));
}

if (job.error) console.log(`${job.status}: ${job.error.title}`, job.error.troubleshooting);
else console.log(`${job.status}:`, job.result);

// The connection's history, newest first (the next page is in the Link header).
const history = await api.GET('/connections/{connection_id}/jobs', {
  params: { path: { connection_id: job.connection_id }, query: { status: ['success', 'failed'], limit: 20 } },
});
console.log(history.data?.map((j) => `${j.date} ${j.action} ${j.status}`));
