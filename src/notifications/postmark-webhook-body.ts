import { Injectable, type NestMiddleware, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const POSTMARK_WEBHOOK_PATH = '/webhooks/postmark';
const WEBHOOK_CONTENT_TYPE = 'application/x-ledgerline-postmark-webhook';

/** The parsed body of a webhook whose JSON did not parse: recorded as ignored, not refused. */
export const UNPARSABLE_BODY: unique symbol = Symbol('unparsable webhook body');

/**
 * Postmark's JSON is read by its own parser, so that a body that is not JSON at all reaches the
 * handler (which records it as ignored and answers 200) instead of the global JSON parser's
 * 400: Postmark retries what it sees refused, and a body that cannot be read never becomes
 * readable. Only POST /webhooks/postmark is affected; every other route keeps the strict parser.
 */
@Injectable()
export class PostmarkWebhookBody implements NestMiddleware, OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance?.() as FastifyInstance | undefined;
    if (!fastify || typeof fastify.addContentTypeParser !== 'function' || fastify.hasContentTypeParser(WEBHOOK_CONTENT_TYPE)) return;
    // No bodyLimit of its own: the server's (1 MiB, see http-app.ts) applies, 413 above it.
    fastify.addContentTypeParser(WEBHOOK_CONTENT_TYPE, { parseAs: 'buffer' }, (request, body, done) => {
      (request as unknown as { rawBody?: Buffer }).rawBody = body as Buffer;
      try {
        done(null, JSON.parse((body as Buffer).toString('utf8')));
      } catch {
        done(null, UNPARSABLE_BODY);
      }
    });
  }

  /** Runs before body parsing: a JSON webhook is handed to the parser above. */
  use(request: IncomingMessage, _response: ServerResponse, next: () => void): void {
    const type = request.headers['content-type'];
    if (request.method === 'POST' && typeof type === 'string' && /^application\/json\s*(;|$)/i.test(type)) request.headers['content-type'] = WEBHOOK_CONTENT_TYPE;
    next();
  }
}
