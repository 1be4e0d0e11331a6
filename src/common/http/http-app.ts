import { randomUUID } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyInstance } from 'fastify';
import { AppModule, type AppModuleOptions } from '../../app.module.js';
import { ProblemFilter } from '../errors/problem.filter.js';
import { createValidationPipe } from '../errors/validation.js';
import { NestPinoLogger } from '../logging/logging.module.js';
import { logAddress } from '../logging/redact.js';
import { computeSecurityHeaders } from './security-headers.js';

/** Largest request body any route accepts; larger bodies get 413 before any handler runs. */
export const BODY_LIMIT_BYTES = 1024 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;
// Swagger UI needs its own scripts and styles; every other response gets `default-src 'none'`.
const DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/**
 * Builds the HTTP application with every cross-cutting control in one place: helmet's headers,
 * CORS from an allow-list, cookies, raw bodies for webhook signatures, a body-size limit,
 * strict validation, problem+json errors, request ids and one redacted log line per request.
 */
export async function createHttpApp(options: AppModuleOptions): Promise<NestFastifyApplication> {
  const { config, logger } = options;
  const adapter = new FastifyAdapter({
    logger: false,
    // A hop count: the socket peer and the next TRUST_PROXY - 1 X-Forwarded-For entries (from the
    // right) are our proxies; the entry after them is the client. Fastify 5.12 refuses a bare
    // number (it cannot know the peer is the proxy), so the rule is given as a function; it
    // assumes, as documented, that the app is reachable only through those proxies.
    trustProxy: config.trustProxy > 0 ? (_address: string, hop: number) => hop < config.trustProxy : false,
    bodyLimit: BODY_LIMIT_BYTES,
    requestIdHeader: false,
    genReqId: (request: { headers: Record<string, string | string[] | undefined> }) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(options), adapter, {
    rawBody: true,
    logger: new NestPinoLogger(logger),
    abortOnError: false,
  });
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;

  // JSON only: a text/plain body must be refused with 415, not parsed into a string.
  fastify.removeContentTypeParser('text/plain');

  await app.register(fastifyCookie as never);
  // No allowed origins: no CORS hook at all, so browsers on other origins get no CORS grant.
  if (config.corsOrigins.length > 0) app.enableCors({
    origin: config.corsOrigins,
    credentials: true,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['content-type', 'authorization', 'x-csrf-token', 'idempotency-key', 'if-match', 'x-request-id'],
    exposedHeaders: ['etag', 'x-request-id', 'retry-after', 'location', 'idempotent-replayed'],
    maxAge: 600,
  });

  const securityHeaders = computeSecurityHeaders();
  const docsHeaders = { ...securityHeaders, 'content-security-policy': DOCS_CSP };
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers(request.url.startsWith('/docs') ? docsHeaders : securityHeaders);
    reply.header('x-request-id', request.id);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    // Probes hit health every few seconds; at info they would drown the useful lines.
    const level = request.url.startsWith('/health') ? 'debug' : 'info';
    if (logger.isLevelEnabled(level)) {
      logger[level](
        { reqId: request.id, method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, ip: logAddress(request.ip) },
        'request',
      );
    }
    done();
  });

  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemFilter(logger));

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Ledgerline API')
      .setDescription('Security-first invoicing backend. Errors are application/problem+json (RFC 9457).')
      .setVersion('1')
      .addBearerAuth()
      .addCookieAuth('__Host-ll_access')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
