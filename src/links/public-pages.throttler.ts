import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { InjectThrottlerStorage, type ThrottlerStorage } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../common/errors/app-error.js';

/** Every request to a public page (GET, HEAD, POST), per client IP. */
export const PAGE_LIMIT = 60;
export const PAGE_WINDOW_MS = 60_000;
/** "Send me a fresh link", per client IP. */
export const FRESH_LINK_IP_LIMIT = 10;
export const FRESH_LINK_IP_WINDOW_MS = 60 * 60_000;
/** Fresh-link emails per document, whoever asks (checked after the signature, in LinksService). */
export const FRESH_LINK_DOCUMENT_LIMIT = 3;
export const FRESH_LINK_DOCUMENT_WINDOW_MS = 60 * 60_000;

export function rateLimited(retryAfterSeconds: number, detail = 'Too many requests. Wait before trying again.'): AppError {
  return new AppError(429, 'rate_limited', detail, undefined, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))), 'cache-control': 'no-store' });
}

/**
 * Per-IP limits for the public pages, in the same shared counter storage as the auth limits
 * (Redis, else PostgreSQL's UNLOGGED `rate_limit_counters`), but with its own budgets and keys:
 * the auth routes' 10 per 15 minutes would be far too tight for customers opening pages. A
 * guard, so it runs before the handler, and so before the signature check: failed guesses spend
 * the budget too. The counter store is the only storage touched before the signature is verified.
 * Over a limit: 429 problem+json with Retry-After.
 */
@Injectable()
export class PublicPagesThrottlerGuard implements CanActivate {
  constructor(@InjectThrottlerStorage() private readonly storage: ThrottlerStorage) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const ip = String(request.ip);
    await this.spend(`pages:ip:${ip}`, PAGE_WINDOW_MS, PAGE_LIMIT);
    const action = (request.body as { action?: unknown } | undefined)?.action;
    if (request.method === 'POST' && action === 'fresh_link') {
      await this.spend(`pages:fresh-link:ip:${ip}`, FRESH_LINK_IP_WINDOW_MS, FRESH_LINK_IP_LIMIT);
    }
    return true;
  }

  private async spend(key: string, windowMs: number, limit: number): Promise<void> {
    const record = await this.storage.increment(key, windowMs, limit, windowMs, 'pages');
    if (record.totalHits > limit) throw rateLimited(record.timeToExpire);
  }
}
