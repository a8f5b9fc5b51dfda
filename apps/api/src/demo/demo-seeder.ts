import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { ApiKeysRepository } from '../auth/api-keys.repository.js';
import { ConnectionsService } from '../connections/connections.service.js';

/** The sandbox logins the demo tenant gets a connection for (see the sandbox institution). */
const DEMO_LOGINS = ['user-ok', 'user-bad-password', 'user-flaky', 'user-action'];

/** What start-up made or found for people to sign in with. */
export interface StartupKeys {
  /** The demo tenant's admin key, when a demo tenant was made now or its key file is there. */
  readonly demoKey: string | null;
}

/** Start-up data: the admin key of JOBTRAIL_ADMIN_KEY, and a demo tenant on an empty database. */
@Injectable()
export class DemoSeeder {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly connections: ConnectionsService,
  ) {}

  async run(config: AppConfig): Promise<StartupKeys> {
    const keyFile = join(config.dataDir, 'demo-key.txt');
    const empty = await this.keys.isEmpty();
    const seed =
      config.demo === 'auto'
        ? empty && config.adminKey === null
        : config.demo && (await this.keys.findTenantByName('demo')) === null;
    let demoKey: string | null = null;
    if (seed) {
      const tenant = await this.keys.createTenant('demo');
      const { key, summary } = await this.keys.createKey(tenant.id, 'demo admin', 'admin');
      const auth = {
        tenantId: tenant.id,
        tenantName: tenant.name,
        keyId: summary.id,
        keyName: summary.name,
        role: summary.role,
      };
      for (const login of DEMO_LOGINS) {
        await this.connections.create(auth, {
          institution_id: 'sandbox',
          login_id: login,
          password: 'demo-password',
          user_ref: `demo ${login}`,
        });
      }
      // Kept next to the SQLite file so a restart can print it again; PostgreSQL has no data folder.
      if (config.database.kind === 'sqlite') writeFileSync(keyFile, key, { mode: 0o600 });
      demoKey = key;
    } else if (config.database.kind === 'sqlite' && existsSync(keyFile)) {
      const key = readFileSync(keyFile, 'utf8').trim();
      if (await this.keys.keyExists(key)) demoKey = key;
    }
    if (config.adminKey) await this.keys.ensureAdminKey(config.adminKey);
    return { demoKey };
  }
}
