import { Controller, Get, Inject, Injectable, Param, Post, Query, Req, Res, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { InjectThrottlerStorage, type ThrottlerStorage } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Meta, type RequestMeta } from '../auth/principal.js';
import { Public } from '../auth/public.decorator.js';
import { AppError } from '../common/errors/app-error.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { LinksService, type LinkTarget } from '../links/links.service.js';
import { crossSiteRefusal } from '../links/same-origin.guard.js';
import { CheckoutService } from './checkout.service.js';

/** Starting a payment costs a provider call: per client IP, a tighter budget than opening pages. */
export const PAY_ACTION_LIMIT = 20;
export const PAY_ACTION_WINDOW_MS = 60_000;

/** Per-IP limit in the shared counter storage (Redis or PostgreSQL), before the signature is checked. */
@Injectable()
export class PayActionsThrottlerGuard implements CanActivate {
  constructor(@InjectThrottlerStorage() private readonly storage: ThrottlerStorage) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const record = await this.storage.increment(`pay-actions:ip:${String(request.ip)}`, PAY_ACTION_WINDOW_MS, PAY_ACTION_LIMIT, PAY_ACTION_WINDOW_MS, 'pay-actions');
    if (record.totalHits > PAY_ACTION_LIMIT) {
      throw new AppError(429, 'rate_limited', 'Too many requests. Wait before trying again.', undefined, { 'retry-after': String(Math.max(1, Math.ceil(record.timeToExpire))) });
    }
    return true;
  }
}

/** The pay page's forms only: a browser's Fetch Metadata or Origin must say "this origin" (as for the page's own POSTs). */
@Injectable()
export class PayActionsSameOriginGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (crossSiteRefusal(request.headers, this.config.baseUrl)) throw AppError.forbidden('cross_site_request', 'This form can only be sent from its own page.');
    return true;
  }
}

function wantsJson(request: FastifyRequest): boolean {
  const accept = String(request.headers.accept ?? '').toLowerCase();
  return accept.includes('application/json') && !accept.includes('text/html');
}

/**
 * The pay page's payment buttons: "Pay by card" (Stripe Checkout) and "Pay with PayPal", and
 * PayPal's return. Public: the signed link (`?t=…&d=…&e=…`) is the credential, verified by
 * LinksService.check before any database read; an invalid or revoked link is 401 and nothing
 * else happens. Browsers get 303 to the provider's hosted page (card data is entered there,
 * never here); JSON clients get `{ url }`.
 */
@ApiExcludeController()
@Controller('pay')
@UseGuards(PayActionsThrottlerGuard)
export class PayActionsController {
  constructor(
    private readonly links: LinksService,
    private readonly checkout: CheckoutService,
  ) {}

  @Public()
  @UseGuards(PayActionsSameOriginGuard)
  @Post(':invoiceId/checkout/stripe')
  async stripe(@Param('invoiceId') id: string, @Query() query: Record<string, unknown>, @Meta() meta: RequestMeta, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const target = await this.target(id, query);
    this.redirect(request, reply, await this.checkout.startStripe(target, meta));
  }

  @Public()
  @UseGuards(PayActionsSameOriginGuard)
  @Post(':invoiceId/paypal')
  async paypal(@Param('invoiceId') id: string, @Query() query: Record<string, unknown>, @Meta() meta: RequestMeta, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const target = await this.target(id, query);
    this.redirect(request, reply, await this.checkout.startPaypal(target, meta));
  }

  /** PayPal sends the customer back here (GET, with `token` = the order id) after approval. */
  @Public()
  @Get(':invoiceId/paypal/return')
  async paypalReturn(@Param('invoiceId') id: string, @Query() query: Record<string, unknown>, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    // Authentic is enough here: a link that expired while the customer was on PayPal still completes the payment.
    const target = await this.target(id, query, true);
    const outcome = await this.checkout.returnFromPaypal(target, query.token);
    this.redirect(request, reply, this.checkout.pageUrl(target, outcome), { outcome });
  }

  private async target(id: string, query: Record<string, unknown>, allowExpired = false): Promise<LinkTarget> {
    const check = await this.links.check('pay', id, query);
    if (check.outcome === 'ok' || (allowExpired && check.outcome === 'expired')) return check.target;
    if (check.outcome === 'expired') throw AppError.unauthorized('link_expired', 'This link has expired. Ask for a fresh one on its page.');
    throw AppError.unauthorized('link_invalid', 'This link is not valid.');
  }

  private redirect(request: FastifyRequest, reply: FastifyReply, url: string, extra: Record<string, string> = {}): void {
    reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
    if (wantsJson(request)) {
      reply.status(200).type('application/json; charset=utf-8').send(JSON.stringify({ url, ...extra }));
      return;
    }
    reply.status(303).header('location', url).send();
  }
}
