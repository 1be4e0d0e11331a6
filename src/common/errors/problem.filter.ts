import { type ArgumentsHost, Catch, type ExceptionFilter, Inject } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { LOGGER } from '../logging/logging.module.js';
import { reportError } from '../sentry/sentry.js';
import { PROBLEM_CONTENT_TYPE, toProblem } from './problem.js';

/** Every error leaves the API as application/problem+json. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendProblem(exception, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>(), this.logger);
  }
}

export function sendProblem(exception: unknown, request: FastifyRequest, reply: FastifyReply, logger: Logger): void {
  const path = (request.url ?? '').split('?')[0];
  const { problem, headers, unexpected } = toProblem(exception, path);
  if (unexpected) {
    logger.error({ err: unexpected.error, errorId: unexpected.errorId, reqId: request.id, method: request.method, path }, 'unexpected error');
    reportError(unexpected.error, { errorId: unexpected.errorId, requestId: String(request.id) });
  }
  if (reply.sent) return;
  reply.status(problem.status).headers(headers).header('content-type', PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}
