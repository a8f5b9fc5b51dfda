import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { sendProblem, toProblem } from './problem-response.js';

/** The one exception filter: every error leaves the API as RFC 9457 problem+json. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request & { log?: Logger }>();
    const res = http.getResponse<Response>();
    const { problem, headers } = toProblem(exception, req.originalUrl.split('?')[0] ?? '/', req.log ?? this.log);
    sendProblem(res, problem, headers);
  }
}
