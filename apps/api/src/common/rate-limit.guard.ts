import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AuthContext } from '../auth/auth-context.js';
import type { AppConfig } from '../config/app-config.js';
import { ApiProblem } from './api-problem.js';
import { APP_CONFIG } from './tokens.js';

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Requests per API key: a token bucket of `requestsPerMinute`, refilled continuously. Kept in
 * memory per process (a limit against runaway clients, not a billing meter). Runs after the key
 * guard; public routes are not limited here (`GET /events` calls {@link RateLimitGuard.consume} itself).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly buckets = new Map<string, Bucket>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<{ auth?: AuthContext }>();
    if (!req.auth) return true;
    this.consume(req.auth.keyId, ctx.switchToHttp().getResponse<FastifyReply>());
    return true;
  }

  /**
   * Takes one request from the key's bucket (setting the `RateLimit-*` headers), or throws 429
   * `rate-limited`. Also called by routes that authenticate themselves (`GET /events` accepts a
   * `?token=` the guards do not know), so they are limited like every other route.
   */
  consume(keyId: string, res: FastifyReply): void {
    const capacity = this.config.limits.requestsPerMinute;
    const perMs = capacity / 60_000;
    const now = Date.now();
    const b = this.buckets.get(keyId) ?? { tokens: capacity, at: now };
    b.tokens = Math.min(capacity, b.tokens + (now - b.at) * perMs);
    b.at = now;
    this.buckets.set(keyId, b);
    if (this.buckets.size > 100_000) this.buckets.clear();
    res.header('RateLimit-Limit', String(capacity));
    if (b.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
      res.header('RateLimit-Remaining', '0');
      throw new ApiProblem(
        'rate-limited',
        `This key may make ${capacity} requests a minute; retry in ${retryAfter} s.`,
        { headers: { 'Retry-After': String(retryAfter) } },
      );
    }
    b.tokens -= 1;
    res.header('RateLimit-Remaining', String(Math.floor(b.tokens)));
  }
}
