/**
 * API keys managed in the product (`/keys`): create (the key shown once), list with role, creation,
 * last use and creator, revoke at once, the tenant's last admin key kept, tenants kept apart.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiKeySchema, CreatedApiKeySchema, type ApiKeyWire, type CreatedApiKeyWire } from '@jobtrail/domain';
import request from 'supertest';
import { bearer, expectProblem, randomId } from '../support/api-helpers.js';
import { databaseKinds, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const kinds = await databaseKinds();

describe.each(kinds)('API keys on %s', (kind) => {
  let t: TestApp;
  let admin: { Authorization: string };
  let adminKeyId: string;
  beforeAll(async () => {
    t = await startTestApp(kind);
    admin = bearer(t.adminKey);
    adminKeyId = (await request(t.server).get('/api/me').set(admin).expect(200)).body.key_id as string;
  });
  afterAll(() => t.close());

  const create = async (auth: { Authorization: string }, body: unknown): Promise<CreatedApiKeyWire> =>
    CreatedApiKeySchema.parse(
      (
        await request(t.server)
          .post('/api/keys')
          .set(auth)
          .send(body as object)
          .expect(201)
      ).body,
    );
  const list = async (auth: { Authorization: string }): Promise<ApiKeyWire[]> => {
    const res = await request(t.server).get('/api/keys').set(auth).expect(200);
    return ApiKeySchema.array().parse(res.body);
  };

  it('creates a key shown once, usable at once, listed with its role and creator but never the key', async () => {
    const created = await create(admin, { name: 'reporting', role: 'viewer' });
    expect(created).toMatchObject({
      name: 'reporting',
      role: 'viewer',
      last_used_at: null,
      created_by: { key_id: adminKeyId, name: 'bootstrap admin' },
    });
    expect(created.key).toMatch(/^jt_[A-Za-z0-9_-]{43}$/);
    expect(created.key.startsWith(created.prefix)).toBe(true);

    const me = await request(t.server).get('/api/me').set(bearer(created.key)).expect(200);
    expect(me.body).toMatchObject({ key_id: created.key_id, role: 'viewer', tenant_name: 'default' });

    const res = await request(t.server).get('/api/keys').set(admin).expect(200);
    expect(res.text).not.toContain(created.key);
    expect(res.text).not.toMatch(/key_hash|"key"/);
    const keys = ApiKeySchema.array().parse(res.body);
    const bootstrap = keys.find((k) => k.key_id === adminKeyId);
    // Keys made at start-up (JOBTRAIL_ADMIN_KEY) or by the command-line tool have no creator.
    expect(bootstrap).toMatchObject({ name: 'bootstrap admin', role: 'admin', created_by: null });
    expect(keys.find((k) => k.key_id === created.key_id)).toMatchObject({ name: 'reporting', role: 'viewer' });
    // The secret is in no log line.
    expect(t.logs.filter((l) => l.includes(created.key))).toEqual([]);
  });

  it('notes the last use of a key to the minute, without a write per request', async () => {
    const created = await create(admin, { name: 'usage', role: 'viewer' });
    const lastUsed = async () =>
      (
        await t.db.query<{ last_used_at: number | string | null }>('SELECT last_used_at FROM api_keys WHERE id = $1', [
          created.key_id,
        ])
      )[0]!.last_used_at;
    await request(t.server).get('/api/me').set(bearer(created.key)).expect(200);
    const first = await waitFor('last_used_at to be written', async () => (await lastUsed()) ?? undefined);
    for (let i = 0; i < 5; i++) await request(t.server).get('/api/me').set(bearer(created.key)).expect(200);
    expect(await lastUsed()).toEqual(first);
    const listed = (await list(admin)).find((k) => k.key_id === created.key_id);
    expect(listed?.last_used_at).toBe(new Date(Number(first)).toISOString());
  });

  it('revokes a key at once: its next request is 401, it leaves the list, a second revoke is 404', async () => {
    const created = await create(admin, { name: 'doomed', role: 'operator' });
    await request(t.server).get('/api/me').set(bearer(created.key)).expect(200);
    await request(t.server).delete(`/api/keys/${created.key_id}`).set(admin).expect(204);
    expectProblem(await request(t.server).get('/api/me').set(bearer(created.key)), 401, 'unauthorized');
    expect((await list(admin)).map((k) => k.key_id)).not.toContain(created.key_id);
    expectProblem(await request(t.server).delete(`/api/keys/${created.key_id}`).set(admin), 404, 'not-found');
  });

  it("keeps the tenant's last active admin key (409 last-admin-key), and only that one", async () => {
    const tenant = `solo-${kind}`;
    const solo = await t.createKey('admin', tenant);
    const soloAuth = bearer(solo.key);
    const body = expectProblem(
      await request(t.server).delete(`/api/keys/${solo.id}`).set(soloAuth),
      409,
      'last-admin-key',
    );
    expect(body.type).toBe('https://jobtrail.dev/problems/last-admin-key');
    // With a second admin, one of the two can go; then the other is the last one.
    const second = await create(soloAuth, { name: 'second admin', role: 'admin' });
    await request(t.server).delete(`/api/keys/${solo.id}`).set(bearer(second.key)).expect(204);
    expectProblem(
      await request(t.server).delete(`/api/keys/${second.key_id}`).set(bearer(second.key)),
      409,
      'last-admin-key',
    );
    // Non-admin keys are never the last admin.
    const viewer = await create(bearer(second.key), { name: 'v', role: 'viewer' });
    await request(t.server).delete(`/api/keys/${viewer.key_id}`).set(bearer(second.key)).expect(204);
  });

  it('lets only one of two admins revoking each other at once succeed', async () => {
    const tenant = `pair-${kind}`;
    const a = await t.createKey('admin', tenant);
    const b = await t.createKey('admin', tenant);
    const [ra, rb] = await Promise.all([
      request(t.server).delete(`/api/keys/${b.id}`).set(bearer(a.key)),
      request(t.server).delete(`/api/keys/${a.id}`).set(bearer(b.key)),
    ]);
    // The loser is refused as the last admin, or (when the winner revoked it first) as a revoked key.
    expect([ra.status, rb.status].sort()).toEqual(expect.arrayContaining([204]));
    expect([ra.status, rb.status].filter((s) => s === 204)).toHaveLength(1);
    for (const r of [ra, rb]) expect([204, 401, 409]).toContain(r.status);
    const active = await t.db.query<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
        WHERE t.name = $1 AND k.role = 'admin' AND k.revoked_at IS NULL`,
      [tenant],
    );
    expect(Number(active[0]!.n)).toBe(1);
  });

  it("answers another tenant's key exactly like a missing one, and lists only the caller's tenant", async () => {
    const other = await t.createKey('admin', `other-${kind}`);
    const otherKey = await create(bearer(other.key), { name: 'theirs', role: 'viewer' });
    const theirs = await request(t.server).delete(`/api/keys/${otherKey.key_id}`).set(admin);
    const missing = await request(t.server).delete(`/api/keys/${randomId()}`).set(admin);
    expectProblem(theirs, 404, 'not-found');
    const strip = (b: Record<string, unknown>) => ({ ...b, instance: undefined });
    expect(strip(theirs.body)).toEqual(strip(missing.body));
    expect((await list(admin)).map((k) => k.key_id)).not.toContain(otherKey.key_id);
    expect((await list(bearer(other.key))).map((k) => k.name).sort()).toEqual(['admin key', 'theirs']);
    // Still usable: the refused revoke changed nothing.
    await request(t.server).get('/api/me').set(bearer(otherKey.key)).expect(200);
  });

  it('is for admins only, and validates its input', async () => {
    const operator = bearer((await t.createKey('operator')).key);
    expectProblem(await request(t.server).get('/api/keys').set(operator), 403, 'forbidden');
    expectProblem(
      await request(t.server).post('/api/keys').set(operator).send({ name: 'x', role: 'viewer' }),
      403,
      'forbidden',
    );
    const invalid = async (body: unknown, field: string, message: RegExp) => {
      const problem = expectProblem(
        await request(t.server)
          .post('/api/keys')
          .set(admin)
          .send(body as object),
        400,
        'validation-failed',
      );
      expect(problem.errors).toEqual(expect.arrayContaining([{ field, message: expect.stringMatching(message) }]));
    };
    await invalid({ role: 'viewer' }, 'body.name', /is required/);
    await invalid({ name: 5, role: 'viewer' }, 'body.name', /must be a string/);
    await invalid({ name: '  ', role: 'viewer' }, 'body.name', /must not be empty/);
    await invalid({ name: 'x', role: 'root' }, 'body.role', /must be one of: viewer, operator, admin/);
    await invalid({ name: 'x', role: 'viewer', key: 'jt_mine' }, 'body.key', /unknown field/);
    expectProblem(await request(t.server).delete('/api/keys/not-a-uuid').set(admin), 400, 'validation-failed');
  });
});
