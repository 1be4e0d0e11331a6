import { Controller, Get, HttpCode, Inject, Post, Query, Req } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { Public } from '../auth/public.decorator.js';
import { ADMIN_ONLY, Roles } from '../auth/roles.js';
import { AppError } from '../common/errors/app-error.js';
import { LOGGER } from '../common/logging/logging.module.js';
import type { Page } from '../common/pagination/cursor.js';
import { StripeGateway } from '../payments/stripe.gateway.js';
import { SecuritySignals } from '../security/security-signals.js';
import { CertificateUnavailable, PaypalCertificates } from './paypal-certificates.js';
import { verifyStripeDelivery } from './stripe-verification.js';
import { ListWebhookEventsQuery } from './webhooks.dto.js';
import { WebhookInbox, type WebhookEventView } from './webhook-inbox.service.js';
import { paypalEnvelope, stripeEnvelope } from './webhook-payload.js';

type RawRequest = FastifyRequest & { rawBody?: Buffer };

function notConfigured(provider: string): AppError {
  return AppError.notFound('webhook_not_configured', `${provider} is not configured on this server.`);
}

/**
 * Vendor webhooks: verify on the exact raw bytes, store once, queue, answer 200. A delivery that
 * fails verification is refused (Stripe 400, PayPal 401) with nothing written to the database;
 * only the in-process security signal counts it.
 */
@ApiTags('webhooks')
@Controller('webhooks')
export class WebhooksController {
  constructor(
    private readonly stripe: StripeGateway,
    private readonly certificates: PaypalCertificates,
    private readonly inbox: WebhookInbox,
    private readonly signals: SecuritySignals,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Public()
  @Post('stripe')
  @HttpCode(200)
  async stripeWebhook(@Req() request: RawRequest): Promise<{ received: true; duplicate: boolean }> {
    if (!this.stripe.configured) throw notConfigured('Stripe');
    const header = request.headers['stripe-signature'];
    const verification = verifyStripeDelivery({ webhooks: this.stripe.webhooks, raw: request.rawBody, header, secret: this.stripe.webhookSecret, mode: this.stripe.mode });
    if (!verification.ok) {
      this.refused('stripe', verification.reason);
      throw AppError.badRequest('webhook_signature_invalid', 'The Stripe-Signature of this request could not be verified.');
    }
    const stored = await this.inbox.receive('stripe', stripeEnvelope(verification.event, request.rawBody!), String(header));
    return { received: true, duplicate: stored.duplicate };
  }

  @Public()
  @Post('paypal')
  @HttpCode(200)
  async paypalWebhook(@Req() request: RawRequest): Promise<{ received: true; duplicate: boolean }> {
    if (!this.certificates.configured) throw notConfigured('PayPal');
    let verification;
    try {
      verification = await this.certificates.verify(request.rawBody, request.headers);
    } catch (error) {
      if (!(error instanceof CertificateUnavailable)) throw error;
      // Not the sender's fault: PayPal retries a non-2xx delivery later. Nothing is written.
      this.logger.warn({ err: error }, 'PayPal webhook not verified: certificate unavailable');
      throw new AppError(503, 'webhook_verification_unavailable', 'The webhook could not be verified right now; deliver it again later.', undefined, { 'retry-after': '60' });
    }
    if (!verification.ok) {
      this.refused('paypal', verification.reason);
      throw AppError.unauthorized('webhook_signature_invalid', 'The PayPal transmission signature of this request could not be verified.');
    }
    const raw = request.rawBody!;
    let event: unknown;
    try {
      event = JSON.parse(raw.toString('utf8'));
    } catch {
      event = undefined;
    }
    const stored = await this.inbox.receive('paypal', paypalEnvelope(event, raw), String(request.headers['paypal-transmission-sig']));
    return { received: true, duplicate: stored.duplicate };
  }

  private refused(provider: 'stripe' | 'paypal', reason: string): void {
    this.signals.webhookVerificationFailed(provider);
    this.logger.warn({ provider, reason }, 'webhook refused: verification failed');
  }
}

/** Verified events of the caller's business, for admins: failures to look at, with their reasons. */
@ApiTags('webhooks')
@Controller('v1/webhook-events')
export class WebhookEventsController {
  constructor(private readonly inbox: WebhookInbox) {}

  @Roles(...ADMIN_ONLY)
  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListWebhookEventsQuery): Promise<Page<WebhookEventView>> {
    return this.inbox.list(principal.businessId, query);
  }
}

