import { Inject, Injectable } from '@nestjs/common';
import Stripe from 'stripe';
import { APP_CONFIG, type AppConfig, type StripeConfig } from '../config/config.js';
import { stripeKeyMode } from './payment-rules.js';
import { ProviderError, ProviderNotConfigured } from './provider-error.js';

/** A request to Stripe waits at most this long; the client retries network failures with the same idempotency key. */
const TIMEOUT_MS = 8_000;
const NETWORK_RETRIES = 2;

/** What we keep of a succeeded payment intent: ids, brand, last four, amounts. Never card data. */
export interface StripePaymentFacts {
  paymentIntentId: string;
  status: string;
  amount: bigint;
  currency: string;
  metadata: Record<string, string>;
  created: number;
  method: 'card' | 'bank_transfer' | 'other';
  chargeId: string | null;
  cardBrand: string | null;
  cardLast4: string | null;
  balanceTransactionId: string | null;
  fee: bigint | null;
  net: bigint | null;
  settlementCurrency: string | null;
}

export interface StripeRefundFacts {
  id: string;
  amount: bigint;
  currency: string;
  status: string;
  failureReason: string | null;
  metadata: Record<string, string>;
}

export interface CheckoutSessionInput {
  businessId: string;
  invoiceId: string;
  invoiceVersion: number;
  description: string;
  amount: bigint;
  currency: string;
  successUrl: string;
  cancelUrl: string;
}

const BANK_METHODS = new Set(['sepa_debit', 'us_bank_account', 'bacs_debit', 'au_becs_debit', 'acss_debit', 'customer_balance', 'bancontact', 'ideal', 'sofort']);

/**
 * The official `stripe` client, pointed at `STRIPE_API_BASE` when set (tests use a local fake).
 * Every call maps Stripe's errors to ProviderError, transient or not, so callers decide between
 * retrying and giving up without knowing Stripe's error classes.
 */
@Injectable()
export class StripeGateway {
  private client?: Stripe;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get configured(): boolean {
    return this.config.stripe !== undefined;
  }

  /** Whether the configured key is a live or a test key (events must match it). */
  get mode(): 'live' | 'test' | undefined {
    return this.config.stripe ? stripeKeyMode(this.config.stripe.secretKey) : undefined;
  }

  get webhookSecret(): string {
    return this.settings().webhookSecret;
  }

  /** The client's webhook helpers (`constructEvent`), for the webhooks module. */
  get webhooks(): Stripe['webhooks'] {
    return this.stripe().webhooks;
  }

  async createCheckoutSession(input: CheckoutSessionInput, idempotencyKey: string): Promise<{ id: string; url: string; expiresAt: number | null }> {
    const metadata = { business_id: input.businessId, invoice_id: input.invoiceId, invoice_version: String(input.invoiceVersion) };
    const session = await this.call(() =>
      this.stripe().checkout.sessions.create(
        {
          mode: 'payment',
          client_reference_id: input.invoiceId,
          line_items: [{ quantity: 1, price_data: { currency: input.currency.toLowerCase(), unit_amount: Number(input.amount), product_data: { name: input.description } } }],
          metadata,
          payment_intent_data: { metadata },
          success_url: input.successUrl,
          cancel_url: input.cancelUrl,
        },
        { idempotencyKey },
      ),
    );
    if (!session.url) throw new ProviderError('stripe', false, 'checkout_without_url', 'Stripe returned a Checkout Session without a URL');
    return { id: session.id, url: session.url, expiresAt: session.expires_at ?? null };
  }

  /** The payment intent with its latest charge and balance transaction (fee, net). */
  async paymentIntent(id: string): Promise<StripePaymentFacts> {
    const intent = await this.call(() => this.stripe().paymentIntents.retrieve(id, { expand: ['latest_charge.balance_transaction'] }));
    const charge = typeof intent.latest_charge === 'object' && intent.latest_charge !== null ? intent.latest_charge : null;
    const balance = charge && typeof charge.balance_transaction === 'object' && charge.balance_transaction !== null ? charge.balance_transaction : null;
    const details = charge?.payment_method_details;
    const card = details?.card;
    const last4 = typeof card?.last4 === 'string' && /^\d{4}$/.test(card.last4) ? card.last4 : null;
    return {
      paymentIntentId: intent.id,
      status: intent.status,
      amount: BigInt(intent.amount_received ?? 0),
      currency: String(intent.currency).toUpperCase(),
      metadata: { ...(intent.metadata ?? {}) },
      created: charge?.created ?? intent.created,
      method: details?.type === 'card' || card ? 'card' : details?.type && BANK_METHODS.has(details.type) ? 'bank_transfer' : 'other',
      chargeId: charge?.id ?? (typeof intent.latest_charge === 'string' ? intent.latest_charge : null),
      cardBrand: typeof card?.brand === 'string' ? card.brand.slice(0, 32) : null,
      cardLast4: last4,
      balanceTransactionId: balance?.id ?? (charge && typeof charge.balance_transaction === 'string' ? charge.balance_transaction : null),
      fee: balance ? BigInt(balance.fee) : null,
      net: balance ? BigInt(balance.net) : null,
      settlementCurrency: balance ? String(balance.currency).toUpperCase() : null,
    };
  }

  async createRefund(input: { paymentIntentId: string; amount: bigint; refundId: string; businessId: string; invoiceId: string }, idempotencyKey: string): Promise<StripeRefundFacts> {
    const refund = await this.call(() =>
      this.stripe().refunds.create(
        {
          payment_intent: input.paymentIntentId,
          amount: Number(input.amount),
          reason: 'requested_by_customer',
          metadata: { ledgerline_refund_id: input.refundId, business_id: input.businessId, invoice_id: input.invoiceId },
        },
        { idempotencyKey },
      ),
    );
    return refundFacts(refund);
  }

  /** Every refund of a charge (at most 100: far more than any invoice has). */
  async refundsOfCharge(chargeId: string): Promise<StripeRefundFacts[]> {
    const page = await this.call(() => this.stripe().refunds.list({ charge: chargeId, limit: 100 }));
    return page.data.map(refundFacts);
  }

  /** The balance transactions a payout paid out (ids only), following Stripe's pagination. */
  async balanceTransactionsOfPayout(payoutId: string): Promise<string[]> {
    return this.call(async () => {
      const ids: string[] = [];
      for await (const transaction of this.stripe().balanceTransactions.list({ payout: payoutId, limit: 100 })) ids.push(transaction.id);
      return ids;
    });
  }

  private settings(): StripeConfig {
    if (!this.config.stripe) throw new ProviderNotConfigured('stripe');
    return this.config.stripe;
  }

  private stripe(): Stripe {
    if (this.client) return this.client;
    const settings = this.settings();
    const base = settings.apiBase ? new URL(settings.apiBase) : undefined;
    this.client = new Stripe(settings.secretKey, {
      timeout: TIMEOUT_MS,
      maxNetworkRetries: NETWORK_RETRIES,
      telemetry: false,
      ...(base ? { host: base.hostname, port: base.port || (base.protocol === 'https:' ? 443 : 80), protocol: base.protocol === 'https:' ? 'https' : 'http' } : {}),
    });
    return this.client;
  }

  private async call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw toProviderError(error);
    }
  }
}

function refundFacts(refund: Stripe.Refund): StripeRefundFacts {
  return {
    id: refund.id,
    amount: BigInt(refund.amount),
    currency: String(refund.currency).toUpperCase(),
    status: refund.status ?? 'pending',
    failureReason: refund.failure_reason ?? null,
    metadata: { ...(refund.metadata ?? {}) },
  };
}

const TRANSIENT_TYPES = new Set(['StripeAPIError', 'StripeConnectionError', 'StripeRateLimitError']);

export function toProviderError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof Stripe.errors.StripeError) {
    const status = error.statusCode;
    const transient = TRANSIENT_TYPES.has(error.type) || (status !== undefined && (status >= 500 || status === 409 || status === 429));
    return new ProviderError('stripe', transient, error.code ?? error.type, error.message, status);
  }
  // Anything else (a socket error the client did not classify) is worth a retry.
  return new ProviderError('stripe', true, 'network_error', error instanceof Error ? error.message : String(error));
}
