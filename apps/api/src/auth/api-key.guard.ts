import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { roleAllows, type ApiKeyRole } from '@jobtrail/domain';
import { ApiProblem } from '../common/api-problem.js';
import type { AuthContext } from './auth-context.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { PUBLIC_ROUTE, REQUIRED_ROLE } from './auth.decorators.js';
import { KeyUsageRecorder } from './key-usage.recorder.js';

/**
 * Every route needs `Authorization: Bearer <key>` unless marked @Public; roles per @RequiresRole.
 * Keys are looked up on every request (no cache), so a revoked key is refused from the next request on.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysRepository,
    private readonly usage: KeyUsageRecorder,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; auth?: AuthContext }>();
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match?.[1]) throw new ApiProblem('unauthorized', 'Send an API key as `Authorization: Bearer <key>`.');
    const auth = await this.keys.findActiveKey(match[1]);
    if (!auth) throw new ApiProblem('unauthorized', 'The API key is unknown or revoked.');
    req.auth = auth;
    this.usage.noteUse(auth.keyId);
    const required = this.reflector.getAllAndOverride<ApiKeyRole>(REQUIRED_ROLE, targets) ?? 'viewer';
    if (!roleAllows(auth.role, required))
      throw new ApiProblem('forbidden', `This needs the ${required} role; the key has ${auth.role}.`);
    return true;
  }
}
