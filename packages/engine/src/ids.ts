import { randomBytes } from 'node:crypto';

let lastMs = 0;
let seq = 0;

/**
 * A UUIDv7 for the millisecond `ms`, with `counter` (12 bits) in `rand_a` when given, random bits
 * elsewhere.
 */
export function uuidv7At(ms: number, counter?: number): string {
  const bytes = randomBytes(16);
  for (let i = 0; i < 6; i++) bytes[i] = Math.floor(ms / 2 ** (8 * (5 - i))) & 0xff;
  bytes[6] = 0x70 | ((counter === undefined ? (bytes[6] ?? 0) : counter >> 8) & 0x0f);
  if (counter !== undefined) bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A UUIDv7: time-ordered, so ids created later sort later even within one millisecond (a 12-bit
 * counter fills `rand_a`). The history's keyset order (created_at, id) then matches creation order.
 */
export function uuidv7(now = Date.now()): string {
  if (now <= lastMs) {
    seq++;
    if (seq > 0xfff) {
      // Counter exhausted within the millisecond: borrow the next one.
      lastMs++;
      seq = 0;
    }
  } else {
    lastMs = now;
    seq = 0;
  }
  return uuidv7At(lastMs, seq);
}
