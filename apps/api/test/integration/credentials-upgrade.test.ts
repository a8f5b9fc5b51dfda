import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createCipheriv, randomBytes } from 'node:crypto';
import request from 'supertest';
import { CredentialsCipher } from '../../src/connections/credentials-cipher.js';
import { CredentialsUpgrade } from '../../src/connections/credentials-upgrade.service.js';
import { bearer, insertConnection, tenantKey } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();

/**
 * Legacy credentials (v1: no associated data) keep working, and are re-encrypted bound to their
 * connection (v2) by the upgrade that runs after start-up (issue 10, item 9).
 */
describe.each(kinds)('credentials written before the v2 format on %s', (kind) => {
  let t: TestApp;
  let auth: { Authorization: string };
  let tenantId: string;

  const legacyEncrypt = (password: string) => {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', t.config.encryptionKey, iv);
    const data = Buffer.concat([c.update(JSON.stringify({ password }), 'utf8'), c.final()]);
    return ['v1', iv.toString('base64url'), c.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  };
  const stored = async (id: string) =>
    (await t.db.query<{ credentials_enc: string }>('SELECT credentials_enc FROM connections WHERE id = $1', [id]))[0]!
      .credentials_enc;
  const refreshSucceeds = async (connectionId: string) => {
    const res = await request(t.server).post(`/api/connections/${connectionId}/refresh`).set(auth);
    expect([200, 202]).toContain(res.status);
    const jobId = (res.body as { job_id: string }).job_id;
    return waitFor(
      'the refresh to finish',
      async () => {
        const job = (await request(t.server).get(`/api/jobs/${jobId}`).set(auth)).body as { status: string };
        return ['success', 'failed'].includes(job.status) ? job.status : undefined;
      },
      20_000,
    );
  };

  beforeAll(async () => {
    t = await startTestApp(kind, { role: 'all' });
    const k = await tenantKey(t, 'legacy-tenant', 'admin');
    auth = bearer(k.key);
    tenantId = k.tenantId;
  });
  afterAll(() => t.close());

  it('a legacy row still decrypts (a refresh succeeds), is upgraded to v2 bound to its connection, and still works', async () => {
    const id = await insertConnection(t, tenantId, Date.now());
    const legacy = legacyEncrypt('seed-password');
    await t.db.execute('UPDATE connections SET credentials_enc = $1 WHERE id = $2', [legacy, id]);
    const garbage = await insertConnection(t, tenantId, Date.now());
    await t.db.execute('UPDATE connections SET credentials_enc = $1 WHERE id = $2', ['v1.AAAA.BBBB.CCCC', garbage]);

    expect(await refreshSucceeds(id)).toBe('success');

    const upgraded = await t.app.get(CredentialsUpgrade).run();
    expect(upgraded).toBe(1);
    const now = await stored(id);
    expect(now).toMatch(/^v2\./);
    const cipher = t.app.get(CredentialsCipher);
    expect(cipher.decrypt(now, { tenantId, connectionId: id })).toEqual({ password: 'seed-password' });
    // Bound: the upgraded ciphertext does not open under another connection.
    expect(() => cipher.decrypt(now, { tenantId, connectionId: garbage })).toThrow();
    // The unreadable row is left as it was, and a second run has nothing to do.
    expect(await stored(garbage)).toBe('v1.AAAA.BBBB.CCCC');
    expect(await t.app.get(CredentialsUpgrade).run()).toBe(0);

    expect(await refreshSucceeds(id)).toBe('success');
  });
});
