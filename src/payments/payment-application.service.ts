import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { RequestMeta } from '../auth/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { formatMoney } from '../common/money/money.js';
import { queryRows } from '../database/sql.js';
import { balanceDue, refusal } from '../invoices/invoice-status.js';
import type { InvoiceStatus } from '../invoices/invoice-view.js';
import { EmailOutbox } from '../notifications/email-outbox.service.js';
import { NotificationSettingsService } from '../notifications/notification-settings.service.js';
import { templates } from '../notifications/templates.js';
import { settle, type PaymentMethod, type PaymentProvider, type SettledInvoice } from './payment-rules.js';

/** The invoice columns the payment rules need, read under the row lock. */
export interface LockedInvoice {
  id: string;
  business_id: string;
  customer_id: string;
  status: InvoiceStatus;
  number: string | null;
  currency: string;
  total: string;
  credited_total: string;
  amount_paid: string;
  version: number;
}

export interface PaymentRow {
  id: string;
  business_id: string;
  invoice_id: string;
  provider: PaymentProvider;
  provider_payment_id: string;
  method: PaymentMethod;
  amount: string;
  currency: string;
  fee: string | null;
  net: string | null;
  settlement_currency: string | null;
  received_on: string;
  reference: string | null;
  checkout_session_id: string | null;
  payment_intent_id: string | null;
  charge_id: string | null;
  order_id: string | null;
  capture_id: string | null;
  balance_transaction_id: string | null;
  payout_id: string | null;
  card_brand: string | null;
  card_last4: string | null;
  recorded_by: string | null;
  created_at: Date;
}

/** Provider ids and the non-sensitive card facts kept with a payment. */
export interface PaymentDetails {
  checkoutSessionId?: string | null;
  paymentIntentId?: string | null;
  chargeId?: string | null;
  orderId?: string | null;
  captureId?: string | null;
  balanceTransactionId?: string | null;
  payoutId?: string | null;
  cardBrand?: string | null;
  cardLast4?: string | null;
  fee?: bigint | null;
  net?: bigint | null;
  settlementCurrency?: string | null;
}

export type PaymentActor = { type: 'user'; id: string } | { type: 'provider'; id: 'stripe' | 'paypal' };

export interface PaymentInput {
  businessId: string;
  invoiceId: string;
  provider: PaymentProvider;
  /** Unique per provider: a payment intent, a capture, or `<businessId>:<key>` for manual payments. */
  providerPaymentId: string;
  method: PaymentMethod;
  /** An amount, or `balance`: the balance due when the invoice row is locked (mark-paid). */
  amount: bigint | 'balance';
  /** The currency paid in; must be the invoice's. Omitted for manual payments (always the invoice's). */
  currency?: string;
  receivedOn: string;
  reference?: string | null;
  details?: PaymentDetails;
  actor: PaymentActor;
  meta?: RequestMeta;
}

export interface ApplyResult {
  /** False when the payment was already applied (same provider payment id) or there was nothing to pay. */
  applied: boolean;
  payment: PaymentRow | null;
  invoice: { id: string; status: InvoiceStatus; amountPaid: bigint; overpayment: bigint };
}

export const PAYMENT_COLUMNS = `p.id, p.business_id, p.invoice_id, p.provider, p.provider_payment_id, p.method, p.amount, p.currency, p.fee, p.net,
  p.settlement_currency, p.received_on, p.reference, p.checkout_session_id, p.payment_intent_id, p.charge_id, p.order_id, p.capture_id,
  p.balance_transaction_id, p.payout_id, p.card_brand, p.card_last4, p.recorded_by, p.created_at`;
const RETURNING = PAYMENT_COLUMNS.replace(/\bp\./g, '');

const METHOD_LABELS: Record<PaymentMethod, string> = { card: 'card', paypal: 'PayPal', cash: 'cash', cheque: 'cheque', bank_transfer: 'bank transfer', other: 'other' };

function invoiceNotFound(): AppError {
  return AppError.notFound('invoice_not_found', 'No such invoice.');
}

/**
 * Applying money to an invoice: the one place that changes `amount_paid`. Every change runs in
 * one transaction that locks the invoice row first (`SELECT … FOR UPDATE`; every payment,
 * refund and dispute path takes this lock first, so they serialise per invoice and never
 * deadlock), inserts the payment under the unique `(provider, provider_payment_id)` (a conflict
 * means it was already applied: nothing else happens), recomputes amount paid and status from
 * the payments and refunds tables, keeps the customer-credit ledger equal to the overpayment,
 * and writes the audit event and the receipt email row. No network call happens inside.
 */
@Injectable()
export class PaymentApplication {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly outbox: EmailOutbox,
    private readonly notificationSettings: NotificationSettingsService,
  ) {}

  async apply(input: PaymentInput): Promise<ApplyResult> {
    const { result, emailIds } = await this.dataSource.transaction(async (tx) => {
      const emailIds: string[] = [];
      const result = await this.applyLocked(tx, input, emailIds);
      return { result, emailIds };
    });
    // After commit: the rows exist, so the jobs can only find them.
    await this.outbox.dispatch(emailIds);
    return result;
  }

  /** Locks the invoice row for the rest of the transaction. */
  async lockInvoice(tx: EntityManager, businessId: string, invoiceId: string): Promise<LockedInvoice | undefined> {
    const rows: LockedInvoice[] = await tx.query(
      `SELECT id, business_id, customer_id, status, number, currency, total, credited_total, amount_paid, version
         FROM invoices WHERE business_id = $1 AND id = $2 FOR UPDATE`,
      [businessId, invoiceId],
    );
    return rows[0];
  }

  /**
   * Recomputes the locked invoice from the ledger: amount paid = Σ payments − Σ succeeded
   * refunds, the status that follows, and a customer-credit entry for any change in the
   * overpayment. Call with the invoice row locked.
   */
  async settleLocked(tx: EntityManager, invoice: LockedInvoice, cause: { paymentId: string | null }): Promise<SettledInvoice> {
    const [sums]: Array<{ paid_in: string; refunded: string; credit: string }> = await tx.query(
      `SELECT (SELECT coalesce(sum(amount), 0) FROM payments WHERE business_id = $1 AND invoice_id = $2)::text AS paid_in,
              (SELECT coalesce(sum(amount), 0) FROM refunds WHERE business_id = $1 AND invoice_id = $2 AND status = 'succeeded')::text AS refunded,
              (SELECT coalesce(sum(amount), 0) FROM customer_credits WHERE business_id = $1 AND invoice_id = $2)::text AS credit`,
      [invoice.business_id, invoice.id],
    );
    const settled = settle(
      { status: invoice.status, total: BigInt(invoice.total), creditedTotal: BigInt(invoice.credited_total) },
      BigInt(sums.paid_in),
      BigInt(sums.refunded),
    );
    if (settled.amountPaid !== BigInt(invoice.amount_paid) || settled.status !== invoice.status) {
      await queryRows(tx, 'UPDATE invoices SET amount_paid = $3, status = $4, updated_at = now() WHERE business_id = $1 AND id = $2', [
        invoice.business_id, invoice.id, settled.amountPaid.toString(), settled.status,
      ]);
    }
    const credit = BigInt(sums.credit);
    if (settled.overpayment !== credit) {
      const delta = settled.overpayment - credit;
      await tx.query(
        `INSERT INTO customer_credits (business_id, customer_id, invoice_id, payment_id, amount, currency, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [invoice.business_id, invoice.customer_id, invoice.id, cause.paymentId, delta.toString(), invoice.currency, delta > 0n ? 'overpayment' : 'overpayment_reduced'],
      );
    }
    return settled;
  }

  private async applyLocked(tx: EntityManager, input: PaymentInput, emailIds: string[]): Promise<ApplyResult> {
    const invoice = await this.lockInvoice(tx, input.businessId, input.invoiceId);
    if (!invoice) throw invoiceNotFound();
    const unchanged = { id: invoice.id, status: invoice.status, amountPaid: BigInt(invoice.amount_paid), overpayment: 0n };
    const refused = refusal('pay', { status: invoice.status, amountPaid: BigInt(invoice.amount_paid), creditedTotal: BigInt(invoice.credited_total) });
    if (refused === 'invoice_not_finalized') throw AppError.conflict(refused, 'Finalise the invoice before recording a payment.');
    if (refused) throw AppError.conflict(refused, 'This invoice is void: it cannot take payments.');
    if (input.currency !== undefined && input.currency !== invoice.currency) {
      throw AppError.conflict('currency_mismatch', `The payment is in ${input.currency.slice(0, 3)}, the invoice in ${invoice.currency}.`);
    }
    const amount = input.amount === 'balance' ? balanceDue(BigInt(invoice.total), BigInt(invoice.credited_total), BigInt(invoice.amount_paid)) : input.amount;
    if (amount <= 0n) return { applied: false, payment: null, invoice: unchanged };

    const details = input.details ?? {};
    const [inserted]: PaymentRow[] = await tx.query(
      `INSERT INTO payments (business_id, invoice_id, provider, provider_payment_id, method, amount, currency, fee, net, settlement_currency, received_on, reference,
                             checkout_session_id, payment_intent_id, charge_id, order_id, capture_id, balance_transaction_id, payout_id, card_brand, card_last4, recorded_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
       ON CONFLICT ON CONSTRAINT payments_provider_payment_key DO NOTHING
       RETURNING ${RETURNING}`,
      [
        input.businessId, input.invoiceId, input.provider, input.providerPaymentId, input.method, amount.toString(), invoice.currency,
        details.fee?.toString() ?? null, details.net?.toString() ?? null, details.settlementCurrency ?? null, input.receivedOn, input.reference ?? null,
        details.checkoutSessionId ?? null, details.paymentIntentId ?? null, details.chargeId ?? null, details.orderId ?? null, details.captureId ?? null,
        details.balanceTransactionId ?? null, details.payoutId ?? null, details.cardBrand ?? null, details.cardLast4 ?? null,
        input.actor.type === 'user' ? input.actor.id : null,
      ],
    );
    if (!inserted) {
      // Already applied: nothing changes but ids a later event knows and the first did not.
      const [existing]: PaymentRow[] = await queryRows(tx,
        `UPDATE payments SET checkout_session_id = coalesce(checkout_session_id, $3), charge_id = coalesce(charge_id, $4),
                balance_transaction_id = coalesce(balance_transaction_id, $5), payout_id = coalesce(payout_id, $6),
                fee = coalesce(fee, $7), net = coalesce(net, $8), settlement_currency = coalesce(settlement_currency, $9), order_id = coalesce(order_id, $10)
          WHERE provider = $1 AND provider_payment_id = $2 RETURNING ${RETURNING}`,
        [
          input.provider, input.providerPaymentId, details.checkoutSessionId ?? null, details.chargeId ?? null, details.balanceTransactionId ?? null,
          details.payoutId ?? null, details.fee?.toString() ?? null, details.net?.toString() ?? null, details.settlementCurrency ?? null, details.orderId ?? null,
        ],
      );
      return { applied: false, payment: existing ?? null, invoice: unchanged };
    }

    const settled = await this.settleLocked(tx, invoice, { paymentId: inserted.id });
    await this.audit.record(
      {
        businessId: input.businessId,
        actor: input.actor,
        action: 'invoice.payment_recorded',
        entity: { type: 'invoice', id: input.invoiceId },
        detail: {
          paymentId: inserted.id, provider: input.provider, method: input.method, amount: Number(amount), currency: invoice.currency,
          amountPaid: Number(settled.amountPaid), status: settled.status, overpayment: Number(settled.overpayment),
        },
        ...(input.meta ?? {}),
      },
      tx,
    );
    const emailId = await this.receipt(tx, invoice, inserted, settled);
    if (emailId) emailIds.push(emailId);
    // A review request (when the business turned them on) once the invoice is paid in full, once per invoice.
    if (settled.status === 'paid') {
      const reviewId = await this.notificationSettings.queueReviewRequest(tx, invoice.business_id, invoice.id);
      if (reviewId) emailIds.push(reviewId);
    }
    return { applied: true, payment: inserted, invoice: { id: invoice.id, status: settled.status, amountPaid: settled.amountPaid, overpayment: settled.overpayment } };
  }

  /** The durable receipt email row, when the customer has an address. */
  private async receipt(tx: EntityManager, invoice: LockedInvoice, payment: PaymentRow, settled: SettledInvoice): Promise<string | undefined> {
    const [recipient]: Array<{ email: string | null; name: string; business_name: string }> = await tx.query(
      'SELECT c.email, c.name, b.name AS business_name FROM customers c JOIN businesses b ON b.id = c.business_id WHERE c.business_id = $1 AND c.id = $2',
      [invoice.business_id, invoice.customer_id],
    );
    if (!recipient?.email) return undefined;
    const money = (amount: bigint) => `${formatMoney(amount, invoice.currency)} ${invoice.currency}`;
    const owed = BigInt(invoice.total) - BigInt(invoice.credited_total) - settled.amountPaid;
    return this.outbox.enqueue(tx, {
      businessId: invoice.business_id,
      to: recipient.email,
      template: 'receipt',
      document: { type: 'invoice', id: invoice.id },
      content: templates.receipt({
        businessName: recipient.business_name,
        customerName: recipient.name,
        number: invoice.number ?? '',
        amount: money(BigInt(payment.amount)),
        method: METHOD_LABELS[payment.method],
        receivedOn: payment.received_on,
        balanceDue: money(owed > 0n ? owed : 0n),
        ...(settled.overpayment > 0n ? { credit: money(settled.overpayment) } : {}),
      }),
    });
  }
}
