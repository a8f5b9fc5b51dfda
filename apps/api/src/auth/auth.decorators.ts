import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { ApiKeyRole } from '@jobtrail/domain';
import type { AuthContext } from './auth-context.js';

export const PUBLIC_ROUTE = 'jobtrail:public';
export const REQUIRED_ROLE = 'jobtrail:role';

/** A route anyone may call, without a key (health, docs). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** The least role a key needs for this route (default: viewer). */
export const RequiresRole = (role: ApiKeyRole) => SetMetadata(REQUIRED_ROLE, role);

/** The caller, as authenticated by the guard. */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthContext => {
  const auth = ctx.switchToHttp().getRequest<{ auth?: AuthContext }>().auth;
  if (!auth) throw new Error('Caller used on a public route');
  return auth;
});
