#!/usr/bin/env node
import { isApiKeyRole } from '@jobtrail/domain';
import { ApiKeysRepository } from './auth/api-keys.repository.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { openDatabase } from './persistence/open-database.js';

const USAGE = `Usage: jobtrail <command>
  tenant:create <tenant-name>                 create a tenant; prints its admin key once
  key:create <tenant-name> <key-name> <role>  create a key (role: viewer, operator, admin); prints it once
  key:revoke <key-id>                         revoke a key
  key:list <tenant-name>                      list a tenant's keys (ids, names, roles; never the keys)
Uses the same environment as the server (DATABASE_URL, JOBTRAIL_DATA_DIR).`;

async function run(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (!command || command === 'help' || command === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const config = loadConfig();
  const { dataSource, db } = await openDatabase(config.database);
  const keys = new ApiKeysRepository(db, dataSource);
  try {
    switch (command) {
      case 'tenant:create': {
        const [name] = rest;
        if (!name) break;
        if (await keys.findTenantByName(name)) {
          process.stderr.write(`tenant "${name}" already exists\n`);
          return 1;
        }
        const tenant = await keys.createTenant(name);
        const { key, summary } = await keys.createKey(tenant.id, 'admin', 'admin');
        process.stdout.write(
          `tenant ${tenant.name} (${tenant.id})\nadmin key id ${summary.id}\nkey: ${key}\n(store it now: it is not shown again)\n`,
        );
        return 0;
      }
      case 'key:create': {
        const [tenantName, keyName, role] = rest;
        if (!tenantName || !keyName || !role) break;
        if (!isApiKeyRole(role)) {
          process.stderr.write('role must be viewer, operator or admin\n');
          return 2;
        }
        const tenant = await keys.findTenantByName(tenantName);
        if (!tenant) {
          process.stderr.write(`no tenant "${tenantName}"\n`);
          return 1;
        }
        const { key, summary } = await keys.createKey(tenant.id, keyName, role);
        process.stdout.write(`key id ${summary.id} (${role})\nkey: ${key}\n(store it now: it is not shown again)\n`);
        return 0;
      }
      case 'key:revoke': {
        const [keyId] = rest;
        if (!keyId) break;
        const revoked = await keys.revokeKey(keyId);
        process.stdout.write(revoked ? `revoked ${keyId}\n` : `no active key ${keyId}\n`);
        return revoked ? 0 : 1;
      }
      case 'key:list': {
        const [tenantName] = rest;
        if (!tenantName) break;
        const tenant = await keys.findTenantByName(tenantName);
        if (!tenant) {
          process.stderr.write(`no tenant "${tenantName}"\n`);
          return 1;
        }
        for (const k of await keys.listKeys(tenant.id))
          process.stdout.write(
            `${k.id}  ${k.role.padEnd(8)}  ${k.prefix}…  ${k.name}${k.revoked ? '  (revoked)' : ''}\n`,
          );
        return 0;
      }
    }
    process.stderr.write(`${USAGE}\n`);
    return 2;
  } finally {
    await dataSource.destroy();
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `${err instanceof ConfigError ? 'Configuration error' : 'Error'}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  },
);
