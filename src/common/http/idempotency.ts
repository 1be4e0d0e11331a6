import { createHash } from 'node:crypto';
import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, type Observable } from 'rxjs';
import type { DataSource } from 'typeorm';
import type { Principal } from '../../auth/principal.js';
import { canonicalJson } from '../../audit/audit-chain.js';
import { queryRows } from '../../database/sql.js';
import { AppError } from '../errors/app-error.js';

const IDEMPOTENT = 'ledgerline:idempotent';
const HEADER = 'idempotency-key';
const KEY_SHAPE = /^[\x21-\x7e]{1,255}$/;
// A claim whose request never finished (the process died) may be taken over after this long.
const ABANDONED_AFTER_SECONDS = 60;
/** Keys are kept (and replayed) for 24 hours; a cleanup job may delete older rows. */
export const IDEMPOTENCY_RETENTION_HOURS = 24;

/** Marks a creating POST: with an `Idempotency-Key` header, a retry replays the first answer instead of creating twice. */
export const Idempotent = (): MethodDecorator => SetMetadata(IDEMPOTENT, true);

/**
 * `Idempotency-Key` for creating POSTs (clients retry after timeouts; a retry must not create a
 * second invoice). The first request with a key claims it with one INSERT … ON CONFLICT; its
 * successful answer is stored and replayed (with `Idempotent-Replayed: true`) for any retry with
 * the same key and the same body. The same key with a different body is refused (422); a retry
 * while the first is still running gets 409. A failed request releases its key, so a corrected
 * retry can use it. Keys are per business.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.reflector.get<boolean>(IDEMPOTENT, context.getHandler())) return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: Principal }>();
    const header = request.headers[HEADER];
    if (header === undefined || !request.user) return next.handle();
    return from(this.handle(context, request as FastifyRequest & { user: Principal }, header, next));
  }

  private async handle(context: ExecutionContext, request: FastifyRequest & { user: Principal }, header: string | string[], next: CallHandler): Promise<unknown> {
    const key = Array.isArray(header) ? header[0] : header;
    if (!KEY_SHAPE.test(key)) {
      throw AppError.validation([{ field: 'Idempotency-Key', code: 'invalid_idempotency_key', message: 'Idempotency-Key must be 1-255 printable ASCII characters' }]);
    }
    const businessId = request.user.businessId;
    const route = `${request.method} ${request.routeOptions?.url ?? request.url.split('?')[0]}`;
    const requestHash = createHash('sha256').update(route).update('\n').update(canonicalJson(request.body ?? null)).digest();

    const claimed: unknown[] = await queryRows(this.dataSource,
      `INSERT INTO idempotency_keys (business_id, key, route, request_hash) VALUES ($1, $2, $3, $4)
       ON CONFLICT (business_id, key) DO UPDATE SET route = EXCLUDED.route, request_hash = EXCLUDED.request_hash, created_at = now()
         WHERE idempotency_keys.status_code IS NULL AND idempotency_keys.created_at < now() - interval '${ABANDONED_AFTER_SECONDS} seconds'
            OR idempotency_keys.created_at < now() - interval '${IDEMPOTENCY_RETENTION_HOURS} hours'
       RETURNING 1`,
      [businessId, key, route, requestHash],
    );
    if (claimed.length === 0) return this.replay(context, businessId, key, route, requestHash);

    try {
      const body = await lastValueFrom(next.handle(), { defaultValue: undefined });
      const status = (Reflect.getMetadata('__httpCode__', context.getHandler()) as number | undefined) ?? 201;
      await queryRows(this.dataSource, 'UPDATE idempotency_keys SET status_code = $3, response = $4 WHERE business_id = $1 AND key = $2', [businessId, key, status, JSON.stringify(body ?? null)]);
      return body;
    } catch (error) {
      await queryRows(this.dataSource, 'DELETE FROM idempotency_keys WHERE business_id = $1 AND key = $2 AND status_code IS NULL', [businessId, key]);
      throw error;
    }
  }

  private async replay(context: ExecutionContext, businessId: string, key: string, route: string, requestHash: Buffer): Promise<unknown> {
    const [stored]: Array<{ route: string; request_hash: Buffer; status_code: number | null; response: unknown }> = await this.dataSource.query(
      'SELECT route, request_hash, status_code, response FROM idempotency_keys WHERE business_id = $1 AND key = $2',
      [businessId, key],
    );
    if (!stored) throw AppError.conflict('idempotency_request_in_progress', 'A request with this Idempotency-Key is being processed: retry shortly.');
    if (stored.route !== route || !stored.request_hash.equals(requestHash)) {
      throw new AppError(422, 'idempotency_key_reused', 'This Idempotency-Key was used for a different request: use a new key for a new request.');
    }
    if (stored.status_code === null) throw AppError.conflict('idempotency_request_in_progress', 'A request with this Idempotency-Key is being processed: retry shortly.');
    context.switchToHttp().getResponse<FastifyReply>().header('idempotent-replayed', 'true');
    return stored.response;
  }
}
