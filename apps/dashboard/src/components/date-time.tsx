import { dateTitle, formatLocal, relativeTime, type Tense } from '../lib/format.js';

interface Props {
  readonly iso: string;
  /** Adds "3 min ago" (or "in 6 s") under the local time; pass the shared clock's `useNow()`. */
  readonly now?: number;
  readonly tense?: Tense;
}

/** A wire date shown in local time, with UTC and the exact ISO value on hover. */
export function DateTime({ iso, now, tense = 'past' }: Props) {
  return (
    <time dateTime={iso} title={dateTitle(iso)} className="date-time">
      <span className="date-local">{formatLocal(iso)}</span>
      {now !== undefined && <span className="date-relative">{relativeTime(iso, now, tense)}</span>}
    </time>
  );
}

/** Only the relative part ("5 s ago"), still with the absolute time (UTC) on hover. */
export function RelativeTime({
  iso,
  now,
  tense = 'past',
}: {
  readonly iso: string;
  readonly now: number;
  readonly tense?: Tense;
}) {
  return (
    <time dateTime={iso} title={dateTitle(iso)} className="date-relative-only">
      {relativeTime(iso, now, tense)}
    </time>
  );
}
