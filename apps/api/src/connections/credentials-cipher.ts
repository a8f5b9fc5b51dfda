import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** What a ciphertext is bound to: the connection (and its tenant) it belongs to. */
export interface CredentialsContext {
  readonly tenantId: string;
  readonly connectionId: string;
}

/** GCM's full tag. Shorter tags are refused: a 4-byte tag can be forged in about 2^32 tries. */
const TAG_BYTES = 16;
const IV_BYTES = 12;

/** The format every new ciphertext is written in. */
export const CURRENT_VERSION = 'v2';

/** The associated data of a v2 ciphertext: decrypting under another connection or tenant fails. */
function aad({ tenantId, connectionId }: CredentialsContext): Buffer {
  return Buffer.from(`jobtrail:credentials:v2\0${tenantId.toLowerCase()}\0${connectionId.toLowerCase()}`, 'utf8');
}

/** Why credentials could not be decrypted (never with any of the secret). */
export class UnreadableCredentialsError extends Error {
  override readonly name = 'UnreadableCredentialsError';
}

/**
 * Bank credentials as stored: AES-256-GCM, `<version>.<iv>.<tag>.<ciphertext>` in base64url.
 *
 * - `v2` (written since issue 10): 16-byte tag, the tenant and connection ids as associated data,
 *   so a ciphertext copied onto another connection (or tenant) does not decrypt.
 * - `v1` (legacy): no associated data. Still read, with a 16-byte tag required, so rows written
 *   before keep working; `isLegacy` finds them and the credentials upgrade rewrites them as v2.
 */
export class CredentialsCipher {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the credentials key must be 32 bytes');
  }

  encrypt(credentials: { password: string }, context: CredentialsContext): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(context));
    const data = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
    return [
      CURRENT_VERSION,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      data.toString('base64url'),
    ].join('.');
  }

  decrypt(stored: string, context: CredentialsContext): { password: string } {
    const [version, iv, tag, data, extra] = stored.split('.');
    if ((version !== 'v1' && version !== CURRENT_VERSION) || !iv || !tag || !data || extra !== undefined)
      throw new UnreadableCredentialsError('unreadable credentials');
    const ivBytes = Buffer.from(iv, 'base64url');
    const tagBytes = Buffer.from(tag, 'base64url');
    // Node would accept any tag length from 4 bytes up (and setAuthTag alone does not pin it).
    if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES)
      throw new UnreadableCredentialsError('unreadable credentials');
    const decipher = createDecipheriv('aes-256-gcm', this.key, ivBytes, { authTagLength: TAG_BYTES });
    if (version === CURRENT_VERSION) decipher.setAAD(aad(context));
    decipher.setAuthTag(tagBytes);
    let plain: string;
    try {
      plain = Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new UnreadableCredentialsError('credentials do not authenticate (wrong key or wrong connection)');
    }
    return JSON.parse(plain) as { password: string };
  }

  /** True for a ciphertext in the legacy format (not bound to its connection). */
  isLegacy(stored: string): boolean {
    return stored.startsWith('v1.');
  }
}
