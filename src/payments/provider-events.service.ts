import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { AppError } from '../common/errors/app-error.js';
import { isCurrency } from '../common/money/currencies.js';
import { formatMoney } from '../common/money/money.js';
import { queryRows } from '../database/sql.js';
import { EmailOutbox } from '../notifications/email-outbox.service.js';
import { templates } from '../notifications/templates.js';
import { PAYMENT_COLUMNS, PaymentApplication, type PaymentRow } from './payment-application.service.js';
import { invoiceReferenceFromMetadata, utcDate, type InvoiceReference } from './payment-rules.js';
import { captureFacts, PaypalGateway, paypalMoney, type PaypalCaptureFacts } from './paypal.gateway.js';
import { ProviderError, ProviderNotConfigured } from './provider-error.js';
import { paypalRefundStatus, RefundsService, stripeRefundStatus } from './refunds.service.js';
import { StripeGateway } from './stripe.gateway.js';

/**
 * A verified event that cannot be processed, now or ever (an unknown invoice, a currency that
 * does not match, a malformed object): the event is marked failed with this reason, for an
 * admin to see, and never retried. Anything else thrown is transient and retried.
 */
export class PermanentEventError extends Error {
  constructor(
    readonly reason: string,
    readonly businessId: string | null = null,
  ) {
    super(reason);
    this.name = 'PermanentEventError';
  }
}

export interface EventOutcome {
  outcome: string;
  /** The business the event turned out to belong to, when known. */
  businessId: string | null;
}

type Json = Record<string, unknown>;

function object(value: unknown): Json | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function id(value: unknown): string | null {
  if (typeof value === 'string') return value.length > 0 && value.length <= 255 ? value : null;
  return id(object(value)?.id);
}

function ignored(): EventOutcome {
  return { outcome: 'ignored', businessId: null };
}

/** Runs `work`; an expected refusal (AppError 4xx, a provider's non-transient error) becomes permanent. */
async function permanentOnRefusal<T>(businessId: string | null, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AppError && error.status < 500) throw new PermanentEventError(error.code, businessId);
    if (error instanceof ProviderError && !error.transient) throw new PermanentEventError(`${error.provider}_${error.code}`.slice(0, 200), businessId);
    if (error instanceof ProviderNotConfigured) throw new PermanentEventError(`${error.provider}_not_configured`, businessId);
    throw error;
  }
}

/**
 * What Stripe and PayPal events mean for invoices. Handlers are idempotent and independent of
 * order: each reloads the provider's current state where it matters (a payment intent, a
 * charge's refunds, a capture) and applies it through the same exactly-once paths, so a refund
 * or a dispute arriving before its payment first applies the payment.
 */
@Injectable()
export class ProviderEvents {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly application: PaymentApplication,
    private readonly refunds: RefundsService,
    private readonly stripe: StripeGateway,
    private readonly paypal: PaypalGateway,
    private readonly audit: AuditService,
    private readonly outbox: EmailOutbox,
  ) {}

  async handleStripe(event: unknown): Promise<EventOutcome> {
    const type = object(event)?.type;
    const data = object(object(object(event)?.data)?.object);
    if (!data) throw new PermanentEventError('malformed_event: no data.object');
    switch (type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        return this.stripeSessionPaid(type, data);
      case 'checkout.session.async_payment_failed':
        return this.checkoutClosed('stripe', data, 'failed');
      case 'checkout.session.expired':
        return this.checkoutClosed('stripe', data, 'expired');
      case 'charge.refunded':
        return this.stripeChargeRefunded(data);
      case 'charge.dispute.created':
      case 'charge.dispute.updated':
      case 'charge.dispute.closed':
        return this.stripeDispute(data);
      case 'payout.paid':
        return this.stripePayout(data);
      default:
        return ignored();
    }
  }

  async handlePaypal(event: unknown): Promise<EventOutcome> {
    const type = object(event)?.event_type;
    const resource = object(object(event)?.resource);
    if (!resource) throw new PermanentEventError('malformed_event: no resource');
    switch (type) {
      case 'PAYMENT.CAPTURE.COMPLETED':
        return this.paypalCaptureCompleted(resource);
      case 'PAYMENT.CAPTURE.PENDING':
        return this.paypalCaptureState(resource, 'pending');
      case 'PAYMENT.CAPTURE.DENIED':
        return this.paypalCaptureState(resource, 'failed');
      case 'PAYMENT.CAPTURE.REFUNDED':
        return this.paypalRefund(resource, 'refund');
      case 'PAYMENT.CAPTURE.REVERSED':
        return this.paypalRefund(resource, 'reversal');
      default:
        return ignored();
    }
  }

  /** Applies a completed PayPal capture (from the return page or a webhook). */
  async applyPaypalCapture(facts: PaypalCaptureFacts): Promise<EventOutcome & { payment: PaymentRow | null }> {
    const reference = facts.reference;
    if (!reference) throw new PermanentEventError('missing_invoice_reference');
    const result = await permanentOnRefusal(reference.businessId, () =>
      this.application.apply({
        businessId: reference.businessId,
        invoiceId: reference.invoiceId,
        provider: 'paypal',
        providerPaymentId: facts.captureId,
        method: 'paypal',
        amount: facts.amount,
        currency: facts.currency,
        receivedOn: utcDate(facts.createTime),
        details: { orderId: facts.orderId, captureId: facts.captureId, fee: facts.fee, net: facts.net, settlementCurrency: facts.fee !== null ? facts.currency : null },
        actor: { type: 'provider', id: 'paypal' },
      }),
    );
    if (facts.orderId) await this.markCheckout('paypal', facts.orderId, 'completed', facts.captureId);
    return { outcome: result.applied ? 'payment_applied' : 'payment_already_applied', businessId: reference.businessId, payment: result.payment };
  }

  /** Marks a checkout (Stripe session or PayPal order) with what the provider said; a completed one stays completed. */
  async markCheckout(provider: 'stripe' | 'paypal', providerSessionId: string, status: 'processing' | 'pending' | 'completed' | 'expired' | 'failed', captureId: string | null = null): Promise<void> {
    await queryRows(this.dataSource,
      `UPDATE checkout_sessions SET status = $3, capture_id = coalesce($4, capture_id), updated_at = now()
        WHERE provider = $1 AND provider_session_id = $2 AND status <> 'completed' AND status <> $3`,
      [provider, providerSessionId, status, captureId],
    );
  }

  private async stripeSessionPaid(type: string, session: Json): Promise<EventOutcome> {
    const sessionId = id(session.id);
    if (!sessionId) throw new PermanentEventError('malformed_event: checkout session without id');
    if (session.mode !== 'payment') return ignored();
    const reference = invoiceReferenceFromMetadata(session.metadata);
    if (type === 'checkout.session.completed' && session.payment_status !== 'paid') {
      // A delayed method (a bank debit): not money yet; async_payment_succeeded will follow.
      await this.markCheckout('stripe', sessionId, 'processing');
      return { outcome: 'awaiting_async_payment', businessId: reference?.businessId ?? null };
    }
    const paymentIntentId = id(session.payment_intent);
    if (!paymentIntentId) throw new PermanentEventError('malformed_event: checkout session without payment_intent', reference?.businessId ?? null);
    const result = await this.applyStripeIntent(paymentIntentId, { checkoutSessionId: sessionId, reference });
    await this.markCheckout('stripe', sessionId, 'completed');
    return result;
  }

  /**
   * Applies a payment intent as Stripe reports it now (amount received, charge, card brand and
   * last four, fee and net from the balance transaction). The network call happens before the
   * transaction that locks the invoice.
   */
  private async applyStripeIntent(paymentIntentId: string, extra: { checkoutSessionId?: string; reference?: InvoiceReference }): Promise<EventOutcome & { payment: PaymentRow | null }> {
    const hint = extra.reference?.businessId ?? null;
    const facts = await permanentOnRefusal(hint, () => this.stripe.paymentIntent(paymentIntentId));
    // Still being confirmed (e.g. 3-D Secure finishing): a retry will see the outcome.
    if (facts.status === 'processing') throw new Error(`payment intent ${paymentIntentId} is still processing`);
    if (facts.status !== 'succeeded') throw new PermanentEventError(`payment_intent_${facts.status}`.slice(0, 100), hint);
    const reference = extra.reference ?? invoiceReferenceFromMetadata(facts.metadata);
    if (!reference) throw new PermanentEventError('missing_invoice_reference');
    if (facts.amount <= 0n) throw new PermanentEventError('zero_amount', reference.businessId);
    if (!isCurrency(facts.currency)) throw new PermanentEventError('unknown_currency', reference.businessId);
    const result = await permanentOnRefusal(reference.businessId, () =>
      this.application.apply({
        businessId: reference.businessId,
        invoiceId: reference.invoiceId,
        provider: 'stripe',
        providerPaymentId: facts.paymentIntentId,
        method: facts.method,
        amount: facts.amount,
        currency: facts.currency,
        receivedOn: utcDate(facts.created),
        details: {
          checkoutSessionId: extra.checkoutSessionId ?? null,
          paymentIntentId: facts.paymentIntentId,
          chargeId: facts.chargeId,
          balanceTransactionId: facts.balanceTransactionId,
          cardBrand: facts.cardBrand,
          cardLast4: facts.cardLast4,
          fee: facts.fee,
          net: facts.net,
          settlementCurrency: facts.settlementCurrency,
        },
        actor: { type: 'provider', id: 'stripe' },
      }),
    );
    return { outcome: result.applied ? 'payment_applied' : 'payment_already_applied', businessId: reference.businessId, payment: result.payment };
  }

  /** The payment of a Stripe payment intent; applied from Stripe's state first if this event came before it. */
  private async stripePayment(paymentIntentId: string | null, chargeId: string | null): Promise<PaymentRow> {
    if (paymentIntentId) {
      const known = await this.findPayment('stripe', paymentIntentId);
      if (known) return known;
      const applied = await this.applyStripeIntent(paymentIntentId, {});
      if (applied.payment) return applied.payment;
    } else if (chargeId) {
      const [known]: PaymentRow[] = await this.dataSource.query(`SELECT ${PAYMENT_COLUMNS} FROM payments p WHERE p.charge_id = $1 AND p.provider = 'stripe'`, [chargeId]);
      if (known) return known;
    }
    throw new PermanentEventError('payment_not_found');
  }

  private async stripeChargeRefunded(charge: Json): Promise<EventOutcome> {
    const chargeId = id(charge.id);
    if (!chargeId) throw new PermanentEventError('malformed_event: charge without id');
    const payment = await this.stripePayment(id(charge.payment_intent), chargeId);
    const refunds = await permanentOnRefusal(payment.business_id, () => this.stripe.refundsOfCharge(chargeId));
    const outcomes: string[] = [];
    for (const refund of refunds) {
      if (refund.currency !== payment.currency) continue;
      outcomes.push(
        await permanentOnRefusal(payment.business_id, () =>
          this.refunds.confirmProviderRefund({
            provider: 'stripe',
            payment,
            providerRefundId: refund.id,
            ledgerlineRefundId: refund.metadata.ledgerline_refund_id ?? null,
            amount: refund.amount,
            currency: refund.currency,
            status: stripeRefundStatus(refund.status),
            kind: 'refund',
            failureReason: refund.failureReason,
          }),
        ),
      );
    }
    return { outcome: `refunds_confirmed: ${outcomes.filter((outcome) => outcome !== 'unchanged').length} changed of ${refunds.length}`, businessId: payment.business_id };
  }

  private async stripeDispute(dispute: Json): Promise<EventOutcome> {
    const disputeId = id(dispute.id);
    if (!disputeId) throw new PermanentEventError('malformed_event: dispute without id');
    const payment = await this.stripePayment(id(dispute.payment_intent), id(dispute.charge));
    const amount = typeof dispute.amount === 'number' && Number.isSafeInteger(dispute.amount) && dispute.amount >= 0 ? BigInt(dispute.amount) : BigInt(payment.amount);
    const outcome = await this.recordDispute(payment, {
      provider: 'stripe',
      providerDisputeId: disputeId,
      amount,
      reason: typeof dispute.reason === 'string' ? dispute.reason.slice(0, 100) : null,
      status: typeof dispute.status === 'string' ? dispute.status.slice(0, 100) : null,
    });
    return { outcome, businessId: payment.business_id };
  }

  /** A payout reached the bank: its payments get its id, so reconciliation groups them as the bank sees them. */
  private async stripePayout(payout: Json): Promise<EventOutcome> {
    const payoutId = id(payout.id);
    if (!payoutId) throw new PermanentEventError('malformed_event: payout without id');
    const transactions = await permanentOnRefusal(null, () => this.stripe.balanceTransactionsOfPayout(payoutId));
    const updated: unknown[] = await queryRows(this.dataSource,
      `UPDATE payments SET payout_id = $1 WHERE provider = 'stripe' AND balance_transaction_id = ANY($2::text[]) AND payout_id IS DISTINCT FROM $1 RETURNING id`,
      [payoutId, transactions],
    );
    return { outcome: `payout_recorded: ${updated.length} payments`, businessId: null };
  }

  private async checkoutClosed(provider: 'stripe', session: Json, status: 'expired' | 'failed'): Promise<EventOutcome> {
    const sessionId = id(session.id);
    if (!sessionId) throw new PermanentEventError('malformed_event: checkout session without id');
    await this.markCheckout(provider, sessionId, status);
    return { outcome: `checkout_${status}`, businessId: invoiceReferenceFromMetadata(session.metadata)?.businessId ?? null };
  }

  private async paypalCaptureCompleted(resource: Json): Promise<EventOutcome> {
    const facts = captureFacts(resource);
    if (!facts) throw new PermanentEventError('malformed_event: not a capture');
    if (facts.status !== 'COMPLETED') {
      // The event and the resource disagree: PayPal's current state decides.
      const current = await permanentOnRefusal(facts.reference?.businessId ?? null, () => this.paypal.capture(facts.captureId));
      if (current.status !== 'COMPLETED') return { outcome: `capture_${current.status.toLowerCase()}`, businessId: facts.reference?.businessId ?? null };
      return this.applyPaypalCapture(current);
    }
    const { payment: _payment, ...outcome } = await this.applyPaypalCapture(facts);
    return outcome;
  }

  /** PENDING and DENIED captures are not payments: the checkout remembers them, nothing is applied. */
  private async paypalCaptureState(resource: Json, status: 'pending' | 'failed'): Promise<EventOutcome> {
    const facts = captureFacts(resource);
    if (!facts) throw new PermanentEventError('malformed_event: not a capture');
    if (facts.orderId) await this.markCheckout('paypal', facts.orderId, status, facts.captureId);
    return { outcome: status === 'pending' ? 'capture_pending_not_applied' : 'capture_denied', businessId: facts.reference?.businessId ?? null };
  }

  /**
   * A refund or reversal of a capture. The resource is a refund (with an `up` link to its
   * capture); for a reversal PayPal may send the reversed capture itself, which we record as a
   * reversal of its whole amount.
   */
  private async paypalRefund(resource: Json, kind: 'refund' | 'reversal'): Promise<EventOutcome> {
    const links = Array.isArray(resource.links) ? resource.links.map(object) : [];
    const up = links.find((link) => link?.rel === 'up' && typeof link.href === 'string');
    const captureFromLink = typeof up?.href === 'string' ? /\/v2\/payments\/captures\/([A-Za-z0-9_-]{1,64})(?:[/?#]|$)/.exec(up.href)?.[1] : undefined;
    const money = paypalMoney(resource.amount);
    const resourceId = id(resource.id);
    if (!resourceId || !money) throw new PermanentEventError('malformed_event: refund without id or amount');
    const captureId = captureFromLink ?? (kind === 'reversal' ? resourceId : undefined);
    if (!captureId) throw new PermanentEventError('malformed_event: refund without its capture');
    const payment = (await this.findPayment('paypal', captureId)) ?? (await this.paypalPaymentFromApi(captureId));
    const providerRefundId = captureFromLink ? resourceId : `reversal:${captureId}`;
    const status = kind === 'reversal' ? 'succeeded' : paypalRefundStatus(typeof resource.status === 'string' ? resource.status : 'COMPLETED');
    if (money.currency !== payment.currency) throw new PermanentEventError('currency_mismatch', payment.business_id);
    const outcome = await permanentOnRefusal(payment.business_id, () =>
      this.refunds.confirmProviderRefund({
        provider: 'paypal',
        payment,
        providerRefundId,
        ledgerlineRefundId: typeof resource.custom_id === 'string' ? resource.custom_id : null,
        amount: money.amount,
        currency: money.currency,
        status,
        kind,
      }),
    );
    return { outcome: `${kind}_${outcome}`, businessId: payment.business_id };
  }

  /** A refund event for a capture we have not applied yet: apply it from PayPal's state first. */
  private async paypalPaymentFromApi(captureId: string): Promise<PaymentRow> {
    const facts = await permanentOnRefusal(null, () => this.paypal.capture(captureId));
    if (!['COMPLETED', 'REFUNDED', 'PARTIALLY_REFUNDED', 'REVERSED'].includes(facts.status)) throw new PermanentEventError(`capture_${facts.status.toLowerCase()}`.slice(0, 100));
    const applied = await this.applyPaypalCapture(facts);
    if (!applied.payment) throw new PermanentEventError('payment_not_found', applied.businessId);
    return applied.payment;
  }

  private async findPayment(provider: 'stripe' | 'paypal', providerPaymentId: string): Promise<PaymentRow | undefined> {
    const [payment]: PaymentRow[] = await this.dataSource.query(`SELECT ${PAYMENT_COLUMNS} FROM payments p WHERE p.provider = $1 AND p.provider_payment_id = $2`, [provider, providerPaymentId]);
    return payment;
  }

  /**
   * A dispute (chargeback): stored once per provider dispute id, the invoice flagged, admins
   * alerted by email. Later updates only change the dispute's status.
   */
  private async recordDispute(payment: PaymentRow, dispute: { provider: 'stripe' | 'paypal'; providerDisputeId: string; amount: bigint; reason: string | null; status: string | null }): Promise<string> {
    const { outcome, emailIds } = await this.dataSource.transaction(async (tx) => {
      const invoice = await this.application.lockInvoice(tx, payment.business_id, payment.invoice_id);
      if (!invoice) throw new PermanentEventError('invoice_not_found', payment.business_id);
      const [row]: Array<{ id: string; inserted: boolean }> = await tx.query(
        `INSERT INTO disputes (business_id, invoice_id, payment_id, provider, provider_dispute_id, amount, currency, reason, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT ON CONSTRAINT disputes_provider_dispute_key DO UPDATE SET status = coalesce(EXCLUDED.status, disputes.status), updated_at = now()
         RETURNING id, (xmax = 0) AS inserted`,
        [payment.business_id, payment.invoice_id, payment.id, dispute.provider, dispute.providerDisputeId, dispute.amount.toString(), payment.currency, dispute.reason, dispute.status],
      );
      if (!row.inserted) return { outcome: 'dispute_updated', emailIds: [] as string[] };
      await queryRows(tx, 'UPDATE invoices SET disputed_at = coalesce(disputed_at, now()), updated_at = now() WHERE business_id = $1 AND id = $2', [payment.business_id, payment.invoice_id]);
      await this.audit.record(
        {
          businessId: payment.business_id,
          actor: { type: 'provider', id: dispute.provider },
          action: 'invoice.disputed',
          entity: { type: 'invoice', id: payment.invoice_id },
          detail: { disputeId: row.id, paymentId: payment.id, amount: Number(dispute.amount), reason: dispute.reason, providerDisputeId: dispute.providerDisputeId },
        },
        tx,
      );
      const emailIds = await this.outbox.enqueueForAdmins(tx, payment.business_id, (admin) => ({
        businessId: payment.business_id,
        to: admin.email,
        template: 'disputeAlert',
        content: templates.disputeAlert({
          name: admin.name,
          businessName: admin.businessName,
          number: invoice.number ?? invoice.id,
          amount: `${formatMoney(dispute.amount, payment.currency)} ${payment.currency}`,
          reason: dispute.reason ?? 'not given',
          provider: dispute.provider === 'stripe' ? 'Stripe' : 'PayPal',
        }),
      }));
      return { outcome: 'dispute_recorded', emailIds };
    });
    await this.outbox.dispatch(emailIds);
    return outcome;
  }
}
