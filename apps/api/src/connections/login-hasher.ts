import { createHmac, hkdfSync } from 'node:crypto';

/**
 * A keyed hash of a bank login, stored beside the connection so support can find a customer by
 * their full login with an index lookup (exact match only: a hash gives no prefixes). The key is
 * derived from the credentials key (HKDF, its own label), so the hash is useless without it and
 * the encryption key itself is never used for two purposes.
 */
export class LoginHasher {
  private readonly key: Buffer;

  constructor(encryptionKey: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', encryptionKey, Buffer.alloc(0), 'jobtrail login search v1', 32));
  }

  hash(loginId: string): string {
    return createHmac('sha256', this.key).update(loginId, 'utf8').digest('hex');
  }
}
