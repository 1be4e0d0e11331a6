import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../common/errors/app-error.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

/**
 * CSRF for the public POSTs (accept, decline, fresh link, pay). The signed URL is the
 * capability: a cross-site attacker who does not have it cannot build the request at all, and
 * the pages set no cookie a forged request could ride on. As defence in depth, a browser's
 * own word about where the request comes from must be "this origin":
 * - `Sec-Fetch-Site` (sent by every current browser, whatever the referrer policy), when
 *   present, must be `same-origin`;
 * - otherwise `Origin`, when present and not `null`, must be our origin (APP_BASE_URL). Our pages
 *   are `no-referrer`, so a browser without Fetch Metadata sends `Origin: null` on their own
 *   form posts: that value says nothing and is let through, like a missing header (mobile
 *   apps and other non-browser clients send neither).
 */
export function crossSiteRefusal(headers: FastifyRequest['headers'], baseUrl: string): string | undefined {
  const site = headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' ? undefined : `Sec-Fetch-Site: ${String(site)}`;
  const origin = headers.origin;
  if (origin === undefined || origin === 'null') return undefined;
  return origin === new URL(baseUrl).origin ? undefined : 'Origin';
}

@Injectable()
export class SameOriginGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (crossSiteRefusal(request.headers, this.config.baseUrl)) throw AppError.forbidden('cross_site_request', 'This form can only be sent from its own page.');
    return true;
  }
}
