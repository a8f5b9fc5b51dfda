import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { problemStatus, problemTitle, problemType } from '@jobtrail/domain';
import { ROUTES } from '../openapi/openapi-document.js';
import { requestLog, requestPath } from '../logging/logger.js';
import { sendProblem, toProblem } from './problem-response.js';

/** Each documented path as a pattern, with the methods it answers. */
const ROUTE_PATTERNS = ROUTES.map((r) => ({
  method: r.method.toUpperCase(),
  pattern: new RegExp(`^/api${r.path.replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
}));

/** The methods a known path answers, or null for an unknown path. */
function allowedMethods(path: string): string[] | null {
  const methods = ROUTE_PATTERNS.filter((r) => r.pattern.test(path)).map((r) => r.method);
  return methods.length > 0 ? [...new Set(methods)] : null;
}

/** The one exception filter: every error leaves the API as RFC 9457 problem+json. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<FastifyRequest>();
    const res = http.getResponse<FastifyReply>();
    const path = requestPath(req);
    const { problem, headers } = toProblem(exception, path, requestLog(this.log, req));
    const allow = problem.code === 'route-not-found' ? allowedMethods(path) : null;
    if (allow) {
      // The path exists, the method does not: 405 with the methods it has (RFC 9110 §15.5.6).
      const code = 'method-not-allowed';
      sendProblem(
        res,
        {
          type: problemType(code),
          title: problemTitle(code),
          status: problemStatus(code),
          code,
          detail: `Use ${allow.join(', ')}.`,
          instance: path,
        },
        { Allow: allow.join(', ') },
      );
      return;
    }
    sendProblem(res, problem, headers);
  }
}
