import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { RequestMeta } from '../auth/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { InvoicesService } from '../invoices/invoices.service.js';
import { linkPath } from '../links/link-signing.js';
import type { LinkTarget } from '../links/links.service.js';
import { checkoutIdempotencyKey } from './payment-rules.js';
import { PaypalGateway } from './paypal.gateway.js';
import { ProviderError, ProviderNotConfigured } from './provider-error.js';
import { PermanentEventError, ProviderEvents } from './provider-events.service.js';
import { StripeGateway } from './stripe.gateway.js';

const ORDER_ID = /^[A-Za-z0-9-]{1,64}$/;

/** Where the customer lands after PayPal: back on the pay page, with what happened. */
export type PaypalReturn = 'paypal_completed' | 'paypal_pending' | 'paypal_failed';

function providerProblem(error: unknown): unknown {
  if (error instanceof ProviderNotConfigured) return new AppError(503, 'payments_unavailable', 'Online payment is not available. Please use the payment instructions on the invoice.');
  if (error instanceof ProviderError) {
    return error.transient
      ? new AppError(503, 'payment_provider_unavailable', 'The payment provider did not answer. Please try again in a minute.', undefined, { 'retry-after': '30' })
      : new AppError(502, 'payment_provider_error', 'The payment provider refused to start this payment. Please use the payment instructions on the invoice.');
  }
  return error;
}

/**
 * Starting a payment from a signed pay link (the link was verified by LinksService.check, before
 * any database read): a Stripe Checkout Session or a PayPal order for the balance due, recorded
 * in `checkout_sessions`; and the PayPal return, which captures the approved order. Provider
 * calls never happen inside a transaction.
 */
@Injectable()
export class CheckoutService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly invoices: InvoicesService,
    private readonly stripe: StripeGateway,
    private readonly paypal: PaypalGateway,
    private readonly events: ProviderEvents,
    private readonly audit: AuditService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * A Checkout Session in `payment` mode for the balance due, with the invoice and business in
   * its metadata (and its payment intent's), success and cancel URLs back to the signed page,
   * and an idempotency key derived from the invoice id, version, amount and link: a retried
   * click gets the same session from Stripe.
   */
  async startStripe(target: LinkTarget, meta: RequestMeta): Promise<string> {
    if (!this.stripe.configured) throw providerProblem(new ProviderNotConfigured('stripe'));
    const due = await this.payable(target);
    const key = checkoutIdempotencyKey({ provider: 'stripe', invoiceId: due.id, version: due.version, amount: due.amount, currency: due.currency, linkDay: target.claims.day, linkEpoch: target.claims.linkEpoch });
    let session: { id: string; url: string };
    try {
      session = await this.stripe.createCheckoutSession(
        {
          businessId: target.businessId,
          invoiceId: due.id,
          invoiceVersion: due.version,
          description: due.description,
          amount: due.amount,
          currency: due.currency,
          successUrl: this.pageUrl(target, 'card_success'),
          cancelUrl: this.pageUrl(target, 'card_cancelled'),
        },
        key,
      );
    } catch (error) {
      throw providerProblem(error);
    }
    await this.remember(target, 'stripe', session.id, session.url, due, key, meta);
    return session.url;
  }

  /** A PayPal order (intent CAPTURE) for the balance due; the customer approves it on PayPal. */
  async startPaypal(target: LinkTarget, meta: RequestMeta): Promise<string> {
    if (!this.paypal.configured) throw providerProblem(new ProviderNotConfigured('paypal'));
    const due = await this.payable(target);
    const key = checkoutIdempotencyKey({ provider: 'paypal', invoiceId: due.id, version: due.version, amount: due.amount, currency: due.currency, linkDay: target.claims.day, linkEpoch: target.claims.linkEpoch });
    let order;
    try {
      order = await this.paypal.createOrder(
        {
          reference: { businessId: target.businessId, invoiceId: due.id },
          amount: due.amount,
          currency: due.currency,
          description: due.description,
          returnUrl: `${this.config.baseUrl}${linkPath('pay', due.id)}/paypal/return${target.query}`,
          cancelUrl: this.pageUrl(target, 'paypal_cancelled'),
        },
        key,
      );
    } catch (error) {
      throw providerProblem(error);
    }
    if (!order.orderId || !order.approveUrl) throw providerProblem(new ProviderError('paypal', false, 'order_without_approval', 'PayPal created no approval link'));
    await this.remember(target, 'paypal', order.orderId, order.approveUrl, due, key, meta);
    return order.approveUrl;
  }

  /**
   * The customer is back from PayPal with the approved order (`token`). Only an order we created
   * for this very invoice is captured. PayPal-Request-Id is stable per order, so a reload or a
   * double return captures once; a PENDING capture is not a payment until PayPal's webhook says
   * COMPLETED.
   */
  async returnFromPaypal(target: LinkTarget, orderId: unknown): Promise<PaypalReturn> {
    if (typeof orderId !== 'string' || !ORDER_ID.test(orderId)) throw AppError.validation([{ field: 'token', code: 'invalid_order', message: 'token is not a PayPal order id' }]);
    const [checkout]: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM checkout_sessions WHERE provider = 'paypal' AND provider_session_id = $1 AND business_id = $2 AND invoice_id = $3`,
      [orderId, target.businessId, target.documentId],
    );
    if (!checkout) throw AppError.notFound('checkout_not_found', 'This PayPal payment was not started from this invoice.');
    let order;
    try {
      order = await this.paypal.captureOrder(orderId);
    } catch (error) {
      if (error instanceof ProviderError && !error.transient) {
        this.logger.warn({ orderId, code: error.code }, 'PayPal capture refused');
        await this.events.markCheckout('paypal', orderId, 'failed');
        return 'paypal_failed';
      }
      throw providerProblem(error);
    }
    const capture = order.captures[0];
    if (!capture || capture.status === 'DECLINED' || capture.status === 'FAILED') {
      await this.events.markCheckout('paypal', orderId, 'failed', capture?.captureId ?? null);
      return 'paypal_failed';
    }
    if (capture.status !== 'COMPLETED') {
      await this.events.markCheckout('paypal', orderId, 'pending', capture.captureId);
      return 'paypal_pending';
    }
    try {
      await this.events.applyPaypalCapture(capture);
    } catch (error) {
      // Captured, so the customer has paid: the webhook event shows the business why it could not be applied.
      if (!(error instanceof PermanentEventError)) throw error;
      this.logger.warn({ orderId, reason: error.reason }, 'PayPal capture not applied');
    }
    return 'paypal_completed';
  }

  /** The signed pay page with what happened, for redirects back to it. */
  pageUrl(target: LinkTarget, payment: string): string {
    return `${this.config.baseUrl}${linkPath('pay', target.documentId)}${target.query}&payment=${encodeURIComponent(payment)}`;
  }

  private async payable(target: LinkTarget): Promise<{ id: string; version: number; amount: bigint; currency: string; description: string }> {
    const invoice = await this.invoices.view(target.businessId, target.documentId);
    if (invoice.status === 'void') throw AppError.conflict('invoice_void', 'This invoice is void: nothing is owed on it.');
    if (invoice.status === 'draft') throw AppError.conflict('invoice_not_finalized', 'This invoice cannot be paid yet.');
    if (invoice.balanceDue <= 0) throw AppError.conflict('invoice_paid', 'This invoice is already paid.');
    return {
      id: invoice.id,
      version: invoice.version,
      amount: BigInt(invoice.balanceDue),
      currency: invoice.currency,
      description: `Invoice ${invoice.number ?? ''} from ${target.business.name}`.replace(/\s+/g, ' ').trim().slice(0, 200),
    };
  }

  private async remember(target: LinkTarget, provider: 'stripe' | 'paypal', providerSessionId: string, url: string, due: { id: string; version: number; amount: bigint; currency: string }, key: string, meta: RequestMeta): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO checkout_sessions (business_id, invoice_id, provider, provider_session_id, amount, currency, invoice_version, idempotency_key, url)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT ON CONSTRAINT checkout_sessions_provider_session_key DO UPDATE SET url = EXCLUDED.url, updated_at = now()`,
      [target.businessId, due.id, provider, providerSessionId, due.amount.toString(), due.currency, due.version, key, url],
    );
    await this.audit.recordSoon({
      businessId: target.businessId,
      actor: { type: 'customer', id: target.customer.id },
      action: 'invoice.checkout_started',
      entity: { type: 'invoice', id: due.id },
      detail: { provider, providerSessionId, amount: Number(due.amount), currency: due.currency },
      ...meta,
    });
  }
}
