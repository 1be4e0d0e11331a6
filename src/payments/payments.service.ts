import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { addDays, todayUtc } from '../common/dates.js';
import { AppError } from '../common/errors/app-error.js';
import { cardNumberErrors, throwIfErrors } from '../common/free-text.js';
import { MoneyError, parseMinorUnits } from '../common/money/money.js';
import type { InvoiceView } from '../invoices/invoice-view.js';
import { InvoicesService } from '../invoices/invoices.service.js';
import { PAYMENT_COLUMNS, PaymentApplication, type PaymentRow } from './payment-application.service.js';
import { paymentView, REFUND_COLUMNS, type DisputeRow, type PaymentView, type RefundRow } from './payment-views.js';
import type { MarkPaidDto, RecordPaymentDto } from './payments.dto.js';

const IDEMPOTENCY_KEY_SHAPE = /^[\x21-\x7e]{1,255}$/;

/** Parses an amount in minor units for a 400 that names the field. */
export function parsePositiveAmount(value: unknown, currency: string, field = 'amount'): bigint {
  let amount: bigint;
  try {
    amount = parseMinorUnits(value, currency);
  } catch (error) {
    if (!(error instanceof MoneyError)) throw error;
    throw AppError.validation([{ field, code: error.code, message: `${field}: ${error.message}` }]);
  }
  if (amount === 0n) throw AppError.validation([{ field, code: 'zero', message: `${field} must be more than zero` }]);
  return amount;
}

/**
 * Payments as the business sees them: manual payments (cash, cheque, bank transfer) with a
 * required Idempotency-Key, mark-paid, and the payments of an invoice. Applying money always
 * goes through PaymentApplication (row lock, ledger recompute).
 */
@Injectable()
export class PaymentsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly application: PaymentApplication,
    private readonly invoices: InvoicesService,
  ) {}

  /**
   * Records a manual payment. The Idempotency-Key is required (428 without one, after the
   * invoice lookup, so a foreign id still answers 404): a client retrying after a timeout must
   * never record the money twice. The key also becomes the payment's provider id, so even a
   * retry after the replay window cannot apply it twice.
   */
  async record(principal: Principal, invoiceId: string, body: RecordPaymentDto, idempotencyKey: string | undefined, meta: RequestMeta): Promise<PaymentView> {
    const invoice = await this.invoiceCurrency(principal.businessId, invoiceId);
    if (idempotencyKey === undefined || !IDEMPOTENCY_KEY_SHAPE.test(idempotencyKey)) {
      throw new AppError(428, 'idempotency_key_required', 'Recording a payment needs an Idempotency-Key header (1-255 printable ASCII characters), so a retry never records it twice.');
    }
    const amount = parsePositiveAmount(body.amount, invoice.currency);
    throwIfErrors([...cardNumberErrors({ reference: body.reference }), ...receivedOnErrors(body.receivedOn)]);
    const providerPaymentId = `${principal.businessId}:${idempotencyKey}`;
    const result = await this.application.apply({
      businessId: principal.businessId,
      invoiceId,
      provider: 'manual',
      providerPaymentId,
      method: body.method,
      amount,
      receivedOn: body.receivedOn,
      reference: body.reference ?? null,
      actor: { type: 'user', id: principal.userId },
      meta,
    });
    const payment = result.payment;
    if (!payment || payment.business_id !== principal.businessId || payment.invoice_id !== invoiceId || (!result.applied && BigInt(payment.amount) !== amount)) {
      throw new AppError(422, 'idempotency_key_reused', 'This Idempotency-Key was used for a different payment: use a new key for a new payment.');
    }
    return this.view(principal.businessId, payment.id);
  }

  /** Records the balance due as paid; a paid invoice is left as it is (no second payment). */
  async markPaid(principal: Principal, invoiceId: string, body: MarkPaidDto, meta: RequestMeta): Promise<InvoiceView> {
    await this.invoiceCurrency(principal.businessId, invoiceId);
    const receivedOn = body.receivedOn ?? todayUtc();
    throwIfErrors([...cardNumberErrors({ reference: body.reference }), ...receivedOnErrors(receivedOn)]);
    await this.application.apply({
      businessId: principal.businessId,
      invoiceId,
      provider: 'manual',
      providerPaymentId: `${principal.businessId}:mark-paid:${randomUUID()}`,
      method: body.method ?? 'other',
      amount: 'balance',
      receivedOn,
      reference: body.reference ?? null,
      actor: { type: 'user', id: principal.userId },
      meta,
    });
    return this.invoices.view(principal.businessId, invoiceId);
  }

  async listForInvoice(businessId: string, invoiceId: string): Promise<{ data: PaymentView[]; amountPaid: number; overpaymentCredit: number }> {
    const [invoice]: Array<{ amount_paid: string; credit: string }> = await this.dataSource.query(
      `SELECT i.amount_paid, (SELECT coalesce(sum(c.amount), 0) FROM customer_credits c WHERE c.business_id = i.business_id AND c.invoice_id = i.id)::text AS credit
         FROM invoices i WHERE i.business_id = $1 AND i.id = $2`,
      [businessId, invoiceId],
    );
    if (!invoice) throw AppError.notFound('invoice_not_found', 'No such invoice.');
    const payments: PaymentRow[] = await this.dataSource.query(`SELECT ${PAYMENT_COLUMNS} FROM payments p WHERE p.business_id = $1 AND p.invoice_id = $2 ORDER BY p.created_at, p.id`, [businessId, invoiceId]);
    return { data: await this.views(businessId, payments), amountPaid: Number(invoice.amount_paid), overpaymentCredit: Number(invoice.credit) };
  }

  async view(businessId: string, paymentId: string): Promise<PaymentView> {
    const payments: PaymentRow[] = await this.dataSource.query(`SELECT ${PAYMENT_COLUMNS} FROM payments p WHERE p.business_id = $1 AND p.id = $2`, [businessId, paymentId]);
    if (payments.length === 0) throw AppError.notFound('payment_not_found', 'No such payment.');
    return (await this.views(businessId, payments))[0];
  }

  private async views(businessId: string, payments: PaymentRow[]): Promise<PaymentView[]> {
    if (payments.length === 0) return [];
    const ids = payments.map((payment) => payment.id);
    const refunds: RefundRow[] = await this.dataSource.query(`SELECT ${REFUND_COLUMNS} FROM refunds r WHERE r.business_id = $1 AND r.payment_id = ANY($2::uuid[]) ORDER BY r.created_at, r.id`, [businessId, ids]);
    const disputes: DisputeRow[] = await this.dataSource.query(
      `SELECT id, payment_id, invoice_id, provider, provider_dispute_id, amount, currency, reason, status, created_at, updated_at
         FROM disputes WHERE business_id = $1 AND payment_id = ANY($2::uuid[]) ORDER BY created_at, id`,
      [businessId, ids],
    );
    return payments.map((payment) => paymentView(payment, refunds.filter((refund) => refund.payment_id === payment.id), disputes.filter((dispute) => dispute.payment_id === payment.id)));
  }

  private async invoiceCurrency(businessId: string, invoiceId: string): Promise<{ currency: string }> {
    const [invoice]: Array<{ currency: string }> = await this.dataSource.query('SELECT currency FROM invoices WHERE business_id = $1 AND id = $2', [businessId, invoiceId]);
    if (!invoice) throw AppError.notFound('invoice_not_found', 'No such invoice.');
    return invoice;
  }
}

/** Money that arrived tomorrow has not arrived: one day of slack for time zones ahead of UTC. */
function receivedOnErrors(receivedOn: string): Array<{ field: string; code: string; message: string }> {
  return receivedOn > addDays(todayUtc(), 1) ? [{ field: 'receivedOn', code: 'in_future', message: 'receivedOn must not be in the future' }] : [];
}
