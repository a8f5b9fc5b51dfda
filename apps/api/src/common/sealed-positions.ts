import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** base64url of nonce + 8 bytes per value + tag. */
const TOKEN = /^[A-Za-z0-9_-]{40,200}$/;

/**
 * Positions in the global sequences (job event ids, which are the SSE `id:` and `Last-Event-ID`;
 * log line ids, inside the logs cursor), as each tenant sees them: opaque tokens sealed with
 * AES-256-GCM under a key derived from the server's encryption key, with the tenant (and what the
 * position is of) as associated data.
 *
 * Why: the sequences are shared by all tenants, so plain ids let any tenant count the others'
 * activity from the gaps between its own ids (issue 10). Sealed, a tenant's ids say nothing of
 * their values; a token of another tenant (or another job's cursor, or anything edited) fails
 * authentication and is answered 400 like a malformed id. Every process of a deployment shares the
 * encryption key, so a token made by one API process opens in another (resume across processes).
 */
export class SealedPositions {
  private readonly key: Buffer;

  constructor(secret: Buffer) {
    this.key = createHmac('sha256', secret).update('jobtrail:sealed-positions:v1').digest();
  }

  /** The SSE `id:` of event `id` for `tenantId`. */
  eventId(tenantId: string, id: number): string {
    return this.seal(`event\n${tenantId}`, [id]);
  }

  /**
   * The event position a `Last-Event-ID` stands for, or null when it is not one of this tenant's.
   * `0` (replay everything still kept) reveals nothing and stays accepted.
   */
  openEventId(tenantId: string, token: string): number | null {
    if (token === '0') return 0;
    return this.open(`event\n${tenantId}`, token, 1)?.[0] ?? null;
  }

  /**
   * The cursor after a log line of `jobId` (line `index` of event row `eventId`, global), the
   * `ordinal`-th line of that job.
   */
  logCursor(tenantId: string, jobId: string, line: { eventId: number; index: number }, ordinal: number): string {
    return this.seal(`log\n${tenantId}\n${jobId}`, [line.eventId, ordinal, line.index]);
  }

  openLogCursor(
    tenantId: string,
    jobId: string,
    token: string,
  ): { eventId: number; index: number; ordinal: number } | null {
    const context = `log\n${tenantId}\n${jobId}`;
    const values = this.open(context, token, 3);
    if (values) return { eventId: values[0]!, ordinal: values[1]!, index: values[2]! };
    // A cursor made before log lines were folded (a row a line): it is past its whole row.
    const legacy = this.open(context, token, 2);
    return legacy ? { eventId: legacy[0]!, ordinal: legacy[1]!, index: Number.MAX_SAFE_INTEGER } : null;
  }

  private seal(context: string, values: readonly number[]): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const plain = Buffer.alloc(8 * values.length);
    values.forEach((v, i) => plain.writeBigUInt64BE(BigInt(v), 8 * i));
    const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return sealed.toString('base64url');
  }

  private open(context: string, token: string, count: number): number[] | null {
    if (!TOKEN.test(token)) return null;
    const raw = Buffer.from(token, 'base64url');
    if (raw.length !== NONCE_BYTES + 8 * count + TAG_BYTES) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, NONCE_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]);
      const values: number[] = [];
      for (let i = 0; i < count; i++) {
        const v = plain.readBigUInt64BE(8 * i);
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) return null;
        values.push(Number(v));
      }
      return values;
    } catch {
      return null;
    }
  }
}
