import { Controller, Get, Res } from '@nestjs/common';
import type { WhoAmIWire } from '@jobtrail/domain';
import type { FastifyReply } from 'fastify';
import type { AuthContext } from '../auth/auth-context.js';
import { Caller, Public } from '../auth/auth.decorators.js';
import { Database } from '@jobtrail/engine';

@Controller()
export class HealthController {
  constructor(private readonly db: Database) {}

  /** Liveness and readiness: 200 when the database answers, 503 otherwise. */
  @Get('health')
  @Public()
  async health(@Res({ passthrough: true }) res: FastifyReply) {
    const up = await this.db.ping();
    res.status(up ? 200 : 503);
    return { status: up ? 'ok' : 'unavailable', database: { kind: this.db.kind, reachable: up } };
  }

  /** Who the presented key is: the dashboard shows buttons by role. */
  @Get('me')
  me(@Caller() auth: AuthContext): WhoAmIWire {
    return {
      tenant_id: auth.tenantId,
      tenant_name: auth.tenantName,
      key_id: auth.keyId,
      key_name: auth.keyName,
      role: auth.role,
    };
  }
}
