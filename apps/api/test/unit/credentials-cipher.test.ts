import { describe, expect, it } from '@jest/globals';
import { createCipheriv, randomBytes } from 'node:crypto';
import { CredentialsCipher } from '../../src/connections/credentials-cipher.js';

const key = randomBytes(32);
const cipher = new CredentialsCipher(key);
const A = { tenantId: '0193a2b4-1c2d-7e8f-9a0b-000000000001', connectionId: '0193a2b4-1c2d-7e8f-9a0b-00000000000a' };

/** A ciphertext as written before issue 10: `v1`, no associated data. */
function legacyEncrypt(password: string, tagLength = 16): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagLength });
  const data = Buffer.concat([c.update(JSON.stringify({ password }), 'utf8'), c.final()]);
  return ['v1', iv.toString('base64url'), c.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
}

/** The same ciphertext with its tag cut to `bytes`. */
function truncateTag(stored: string, bytes: number): string {
  const [v, iv, tag, data] = stored.split('.');
  return [v, iv, Buffer.from(tag!, 'base64url').subarray(0, bytes).toString('base64url'), data].join('.');
}

/** Credentials at rest (issue 10, item 9): full tags only, bound to their connection, legacy still read. */
describe('CredentialsCipher', () => {
  it('round-trips credentials in the v2 format', () => {
    const stored = cipher.encrypt({ password: 'pässword' }, A);
    expect(stored).toMatch(/^v2\.[\w-]+\.[\w-]{22}\.[\w-]+$/);
    expect(cipher.decrypt(stored, A)).toEqual({ password: 'pässword' });
    expect(cipher.isLegacy(stored)).toBe(false);
  });

  it('refuses a short tag, even the true tag truncated (GCM would otherwise accept its prefix)', () => {
    const stored = cipher.encrypt({ password: 'pw' }, A);
    for (const bytes of [4, 8, 12, 15]) expect(() => cipher.decrypt(truncateTag(stored, bytes), A)).toThrow();
    const legacy = legacyEncrypt('pw');
    for (const bytes of [4, 8, 12]) expect(() => cipher.decrypt(truncateTag(legacy, bytes), A)).toThrow();
    // Written with a short tag from the start: refused too.
    expect(() => cipher.decrypt(legacyEncrypt('pw', 4), A)).toThrow();
  });

  it('does not decrypt a ciphertext moved to another connection or tenant', () => {
    const stored = cipher.encrypt({ password: 'pw' }, A);
    expect(() => cipher.decrypt(stored, { ...A, connectionId: '0193a2b4-1c2d-7e8f-9a0b-00000000000b' })).toThrow();
    expect(() => cipher.decrypt(stored, { ...A, tenantId: '0193a2b4-1c2d-7e8f-9a0b-000000000002' })).toThrow();
    // Ids are compared case-insensitively, like everywhere else.
    expect(cipher.decrypt(stored, { tenantId: A.tenantId.toUpperCase(), connectionId: A.connectionId })).toEqual({
      password: 'pw',
    });
  });

  it('still decrypts legacy (v1) ciphertexts, and says they are legacy', () => {
    const legacy = legacyEncrypt('old-password');
    expect(cipher.isLegacy(legacy)).toBe(true);
    expect(cipher.decrypt(legacy, A)).toEqual({ password: 'old-password' });
  });

  it('refuses malformed or tampered input without revealing anything', () => {
    const stored = cipher.encrypt({ password: 'pw' }, A);
    const [v, iv, tag, data] = stored.split('.');
    const flipped = Buffer.from(data!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    for (const bad of [
      '',
      'v3.a.b.c',
      `${v}.${iv}.${tag}`,
      `${v}.${iv}.${tag}.${data}.extra`,
      `${v}.${iv}.${tag}.${flipped.toString('base64url')}`,
      `v1.${iv}.${tag}.${data}`, // a v2 ciphertext relabelled as legacy (dropping its binding)
    ])
      expect(() => cipher.decrypt(bad, A)).toThrow(/credentials/);
  });
});
