import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Bank credentials as stored: AES-256-GCM, `v1.<iv>.<tag>.<ciphertext>` in base64url. */
export class CredentialsCipher {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the credentials key must be 32 bytes');
  }

  encrypt(credentials: { password: string }): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join(
      '.',
    );
  }

  decrypt(stored: string): { password: string } {
    const [version, iv, tag, data] = stored.split('.');
    if (version !== 'v1' || !iv || !tag || !data) throw new Error('unreadable credentials');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    return JSON.parse(plain) as { password: string };
  }
}
