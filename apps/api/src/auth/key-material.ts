import { createHash, randomBytes } from 'node:crypto';

/** API keys are `jt_` + 32 random bytes; only their SHA-256 is stored (high entropy: no slow hash needed). */
export function generateApiKey(): string {
  return `jt_${randomBytes(32).toString('base64url')}`;
}

/** The stored form of a key. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The first characters of a key, stored to recognise it in listings without revealing it. */
export function keyPrefix(key: string): string {
  return key.slice(0, 10);
}
