import { Link, useParams } from 'react-router';
import { useDocumentTitle } from '../lib/use-document-title.js';
import { shortId } from '../lib/format.js';
import { JobPanel } from './job-panel.js';

/** `/jobs/:jobId`: a deep link to one job, e.g. from a support ticket. */
export function JobPage() {
  const { jobId = '' } = useParams();
  useDocumentTitle(`Job ${shortId(jobId)}`);
  return (
    <div className="job-page">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/">Connections</Link> <span aria-hidden="true">/</span>{' '}
        <span aria-current="page">Job {shortId(jobId)}</span>
      </nav>
      {/* Keyed by id: moving from a job to its retry starts from a clean panel. */}
      <JobPanel key={jobId} jobId={jobId} />
    </div>
  );
}
