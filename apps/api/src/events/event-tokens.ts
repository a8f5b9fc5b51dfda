import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How long a stream token is valid by default (`JOBTRAIL_EVENT_TOKEN_TTL_MS`): it opens (or
 * reopens) a stream until then, and a stream opened with it is closed then.
 */
export const EVENT_TOKEN_TTL_MS = 10 * 60 * 1000;

/**
 * Short-lived signed tokens for `GET /events?token=...`: EventSource cannot send an Authorization
 * header, and an API key in a URL would end up in proxy and browser logs. A token names the key
 * (which must still be active when used) and an expiry, signed with a key derived from the
 * encryption key.
 */
export class EventTokens {
  private readonly secret: Buffer;

  constructor(encryptionKey: Buffer) {
    this.secret = createHmac('sha256', encryptionKey).update('jobtrail:event-tokens').digest();
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }

  issue(keyId: string, now = Date.now(), ttlMs = EVENT_TOKEN_TTL_MS): { token: string; expiresAt: Date } {
    const expiresAt = new Date(now + ttlMs);
    const payload = Buffer.from(JSON.stringify({ k: keyId, e: expiresAt.getTime() })).toString('base64url');
    return { token: `${payload}.${this.sign(payload)}`, expiresAt };
  }

  /** The key id of a valid, unexpired token, else null. */
  verify(token: string, now = Date.now()): string | null {
    return this.read(token, now)?.keyId ?? null;
  }

  /** The key id and expiry (epoch ms) of a valid, unexpired token, else null. */
  read(token: string, now = Date.now()): { keyId: string; expiresAt: number } | null {
    const [payload, mac] = token.split('.');
    if (!payload || !mac) return null;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    try {
      const { k, e } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { k?: unknown; e?: unknown };
      return typeof k === 'string' && typeof e === 'number' && e > now ? { keyId: k, expiresAt: e } : null;
    } catch {
      return null;
    }
  }
}
