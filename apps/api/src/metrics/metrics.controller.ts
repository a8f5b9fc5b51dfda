import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.decorators.js';
import { ApiProblem } from '../common/api-problem.js';
import { APP_CONFIG } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { MetricsService } from './metrics.service.js';

/** Compares two secrets in time that depends on neither (hashing first evens out their lengths). */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Prometheus exposition; aggregate numbers only, no tenant data. Scrapers present
   * `JOBTRAIL_METRICS_TOKEN` when it is set (not an API key: a scraper belongs to no tenant).
   */
  @Get()
  @Public()
  async render(@Headers('authorization') authorization: string | undefined, @Res() res: FastifyReply): Promise<void> {
    const token = this.config.metricsToken;
    if (token !== null) {
      const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
      if (given === undefined || !sameSecret(given, token))
        throw new ApiProblem('unauthorized', 'Send the metrics token as `Authorization: Bearer <token>`.');
    }
    const text = await this.metrics.render();
    res.status(200).type(this.metrics.contentType).send(text);
  }
}
