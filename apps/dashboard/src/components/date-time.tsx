import { dateTitle, formatLocal, relativeTime } from '../lib/format.js';

interface Props {
  readonly iso: string;
  /** Adds "3 min ago" under the local time. */
  readonly now?: number;
}

/** A wire date shown in local time, with UTC and the exact ISO value on hover. */
export function DateTime({ iso, now }: Props) {
  return (
    <time dateTime={iso} title={dateTitle(iso)} className="date-time">
      <span className="date-local">{formatLocal(iso)}</span>
      {now !== undefined && <span className="date-relative">{relativeTime(iso, now)}</span>}
    </time>
  );
}
