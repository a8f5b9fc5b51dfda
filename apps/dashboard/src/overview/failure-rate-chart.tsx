import { useId } from 'react';
import { percent, type HourBucket } from './overview-stats.js';

const WIDTH = 720;
const HEIGHT = 200;
const PAD = { top: 10, right: 8, bottom: 24, left: 40 };
const hourFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/**
 * Failure rate per hour as inline SVG bars: a chart library would cost more than the whole rest of
 * the page. The same numbers are available as a table for screen readers and copy-paste.
 */
export function FailureRateChart({ hours }: { readonly hours: readonly HourBucket[] }) {
  const id = useId();
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
                  className={h.rate > 0 ? 'chart-bar' : 'chart-bar-zero'}
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
                    <td>{hourFormat.format(h.start)}</td>
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
