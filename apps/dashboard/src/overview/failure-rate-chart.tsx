import { useId } from 'react';
import { Link, useNavigate } from 'react-router';
import { jobsPageLink } from '../jobs-list/jobs-filters.js';
import { percent, type HourBucket } from './overview-stats.js';

const WIDTH = 720;
const HEIGHT = 200;
const PAD = { top: 10, right: 8, bottom: 24, left: 40 };
const hourFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/**
 * Failure rate per hour as inline SVG bars: a chart library would cost more than the whole rest of
 * the page. The same numbers are available as a table for screen readers and copy-paste.
 */
/** The Jobs page listing the failed jobs of one hour of the chart. */
export function hourLink(h: HourBucket): string {
  return jobsPageLink({
    status: 'failed',
    from: new Date(h.start).toISOString(),
    to: new Date(h.start + 3_600_000 - 1).toISOString(),
  });
}

export function FailureRateChart({ hours }: { readonly hours: readonly HourBucket[] }) {
  const id = useId();
  const navigate = useNavigate();
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, hours.length);
  const label = (h: HourBucket) =>
    `${hourFormat.format(h.start)}: ${h.rate === null ? 'no finished jobs' : `${h.failed} of ${h.failed + h.succeeded} failed (${percent(h.rate)})`}`;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby={`${id}-title`} className="chart-svg">
        <title id={`${id}-title`}>Failure rate per hour over the last 24 hours</title>
        {[0, 0.5, 1].map((tick) => {
          const y = PAD.top + plotH * (1 - tick);
          return (
            <g key={tick} className="chart-grid">
              <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y} y2={y} />
              <text x={PAD.left - 6} y={y + 4} textAnchor="end">
                {tick * 100}%
              </text>
            </g>
          );
        })}
        {hours.map((h, i) => {
          const x = PAD.left + i * slot + slot * 0.15;
          const w = slot * 0.7;
          const barH = h.rate === null ? 0 : Math.max(h.rate > 0 ? 2 : 0, h.rate * plotH);
          return (
            <g key={h.start}>
              {h.rate === null ? (
                <rect className="chart-empty" x={x} y={PAD.top + plotH - 2} width={w} height={2}>
                  <title>{label(h)}</title>
                </rect>
              ) : (
                <rect
                  // A pointer shortcut to the hour's failed jobs; keyboard and screen-reader users
                  // have the same links in the table of numbers below.
                  onClick={() => navigate(hourLink(h))}
                  data-testid="chart-bar"
                  className={h.rate > 0 ? 'chart-bar chart-bar-link' : 'chart-bar-zero chart-bar-link'}
                  x={x}
                  y={PAD.top + plotH - Math.max(barH, 2)}
                  width={w}
                  height={Math.max(barH, 2)}
                >
                  <title>{label(h)}</title>
                </rect>
              )}
              {i % 6 === 0 && (
                <text className="chart-axis" x={x + w / 2} y={HEIGHT - 6} textAnchor="middle">
                  {hourFormat.format(h.start)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <details>
          <summary>Show the numbers</summary>
          <div className="table-scroll">
            <table className="data-table compact">
              <thead>
                <tr>
                  <th scope="col">Hour</th>
                  <th scope="col">Failed</th>
                  <th scope="col">Succeeded</th>
                  <th scope="col">Failure rate</th>
                </tr>
              </thead>
              <tbody>
                {hours.map((h) => (
                  <tr key={h.start}>
                    <td>
                      <Link to={hourLink(h)} aria-label={`Failed jobs of ${hourFormat.format(h.start)}`}>
                        {hourFormat.format(h.start)}
                      </Link>
                    </td>
                    <td>{h.failed}</td>
                    <td>{h.succeeded}</td>
                    <td>{percent(h.rate)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      </figcaption>
    </figure>
  );
}
