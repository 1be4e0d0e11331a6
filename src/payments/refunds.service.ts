import { Inject, Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { cardNumberErrors, throwIfErrors } from '../common/free-text.js';
import { LOGGER } from '../common/logging/logging.module.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, UUID_SHAPE, type Page } from '../common/pagination/cursor.js';
import { queryRows } from '../database/sql.js';
import { withAdvisoryXactLock } from '../jobs/advisory-lock.js';
import { JobHandler } from '../jobs/job-handler.decorator.js';
import { JobsService } from '../jobs/jobs.service.js';
import { PAYMENT_COLUMNS, PaymentApplication, type LockedInvoice, type PaymentRow } from './payment-application.service.js';
import { refundable, refundIdempotencyKey, RESERVING_REFUND_STATUSES, type RefundStatus } from './payment-rules.js';
import { REFUND_COLUMNS, refundView, type RefundRow, type RefundView } from './payment-views.js';
import type { ListRefundsQuery, RequestRefundDto } from './payments.dto.js';
import { parsePositiveAmount } from './payments.service.js';
import { PaypalGateway } from './paypal.gateway.js';
import { ProviderError, ProviderNotConfigured } from './provider-error.js';
import { StripeGateway } from './stripe.gateway.js';

const TIMESTAMP_SHAPE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?[+-]\d{2}(?::\d{2})?$/;

/** A refund as the provider reports it, for `confirmProviderRefund`. */
export interface ProviderRefund {
  provider: 'stripe' | 'paypal';
  payment: PaymentRow;
  providerRefundId: string;
  /** Our refund id, when the provider echoes it back (Stripe metadata, PayPal custom_id). */
  ledgerlineRefundId?: string | null;
  amount: bigint;
  currency: string;
  /** Mapped to ours: succeeded, submitted (pending at the provider) or failed. */
  status: Extract<RefundStatus, 'succeeded' | 'submitted' | 'failed'>;
  kind: 'refund' | 'reversal';
  failureReason?: string | null;
}

function refundNotFound(): AppError {
  return AppError.notFound('refund_not_found', 'No such refund.');
}

/** Stripe's refund statuses in our words. */
export function stripeRefundStatus(status: string): ProviderRefund['status'] {
  if (status === 'succeeded') return 'succeeded';
  if (status === 'failed' || status === 'canceled') return 'failed';
  return 'submitted';
}

/** PayPal's refund statuses in our words. */
export function paypalRefundStatus(status: string): ProviderRefund['status'] {
  if (status === 'COMPLETED') return 'succeeded';
  if (status === 'FAILED' || status === 'CANCELLED') return 'failed';
  return 'submitted';
}

/**
 * Refunds with two people (maker–checker): billing or admin requests, another admin approves.
 * A request reserves part of the payment under the invoice row lock, so concurrent requests
 * can never together exceed what was paid; approval checks again. Provider refunds are executed
 * by a job after commit (Stripe with an idempotency key per refund, PayPal with a request id),
 * and count towards the invoice only once the provider confirms them (its answer or its
 * webhook, whichever comes first). Manual payments' refunds are recorded at approval.
 */
@Injectable()
export class RefundsService {
  private sweeping = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly application: PaymentApplication,
    private readonly audit: AuditService,
    private readonly jobs: JobsService,
    private readonly stripe: StripeGateway,
    private readonly paypal: PaypalGateway,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async request(principal: Principal, paymentId: string, body: RequestRefundDto, meta: RequestMeta): Promise<RefundView> {
    throwIfErrors(cardNumberErrors({ reason: body.reason }));
    const payment = await this.payment(principal.businessId, paymentId);
    const amount = parsePositiveAmount(body.amount, payment.currency);
    const row = await this.dataSource.transaction(async (tx) => {
      await this.lockInvoiceOf(tx, payment);
      const left = refundable(BigInt(payment.amount), await this.reserved(tx, payment));
      if (amount > left) {
        throw AppError.validation([{ field: 'amount', code: 'refund_exceeds_refundable', message: `at most ${left} minor units of this payment can still be refunded` }]);
      }
      const [refund]: RefundRow[] = await tx.query(
        `INSERT INTO refunds (business_id, payment_id, invoice_id, provider, kind, origin, amount, currency, reason, status, requested_by)
         VALUES ($1, $2, $3, $4, 'refund', 'requested', $5, $6, $7, 'pending_approval', $8)
         RETURNING ${REFUND_COLUMNS.replace(/\br\./g, '')}`,
        [principal.businessId, payment.id, payment.invoice_id, payment.provider, amount.toString(), payment.currency, body.reason, principal.userId],
      );
      await this.record(tx, principal, meta, 'payment.refund_requested', refund, { amount: Number(amount), reason: body.reason });
      return refund;
    });
    return refundView(row);
  }

  async approve(principal: Principal, refundId: string, meta: RequestMeta): Promise<RefundView> {
    const found = await this.refund(principal.businessId, refundId);
    if (found.requested_by === principal.userId) {
      throw AppError.forbidden('refund_needs_second_person', 'A refund is approved by an admin other than the person who requested it.');
    }
    const row = await this.dataSource.transaction(async (tx) => {
      const invoice = await this.application.lockInvoice(tx, principal.businessId, found.invoice_id);
      const refund = await this.lockRefund(tx, principal.businessId, refundId);
      if (!invoice || !refund) throw refundNotFound();
      if (refund.status !== 'pending_approval') throw AppError.conflict('refund_not_pending', `This refund is ${refund.status.replace('_', ' ')}, not waiting for approval.`);
      const payment = await this.payment(principal.businessId, refund.payment_id, tx);
      const others = (await this.reserved(tx, payment)) - BigInt(refund.amount);
      if (BigInt(refund.amount) > refundable(BigInt(payment.amount), others)) {
        throw AppError.conflict('refund_exceeds_refundable', 'Other refunds of this payment leave less than this refund: reject it and request a smaller one.');
      }
      const manual = refund.provider === 'manual';
      const [updated]: RefundRow[] = await queryRows(tx,
        `UPDATE refunds SET status = $3, decided_by = $4, decided_at = now(), completed_at = CASE WHEN $3 = 'succeeded' THEN now() END, updated_at = now()
          WHERE business_id = $1 AND id = $2 RETURNING ${REFUND_COLUMNS.replace(/\br\./g, '')}`,
        [principal.businessId, refundId, manual ? 'succeeded' : 'approved', principal.userId],
      );
      await this.record(tx, principal, meta, 'payment.refund_approved', updated, { amount: Number(updated.amount) });
      if (manual) {
        const settled = await this.application.settleLocked(tx, invoice, { paymentId: payment.id });
        await this.record(tx, principal, meta, 'payment.refunded', updated, { amount: Number(updated.amount), amountPaid: Number(settled.amountPaid), status: settled.status });
      }
      return updated;
    });
    // Durable first (the refund is `approved`), queue second; the sweeper re-queues a lost job.
    if (row.status === 'approved') await this.dispatch(row.id);
    return refundView(row);
  }

  async reject(principal: Principal, refundId: string, note: string | undefined, meta: RequestMeta): Promise<RefundView> {
    throwIfErrors(cardNumberErrors({ note }));
    const found = await this.refund(principal.businessId, refundId);
    const row = await this.dataSource.transaction(async (tx) => {
      await this.application.lockInvoice(tx, principal.businessId, found.invoice_id);
      const refund = await this.lockRefund(tx, principal.businessId, refundId);
      if (!refund) throw refundNotFound();
      if (refund.status !== 'pending_approval') throw AppError.conflict('refund_not_pending', `This refund is ${refund.status.replace('_', ' ')}, not waiting for approval.`);
      const [updated]: RefundRow[] = await queryRows(tx,
        `UPDATE refunds SET status = 'rejected', decided_by = $3, decided_at = now(), decision_note = $4, updated_at = now()
          WHERE business_id = $1 AND id = $2 RETURNING ${REFUND_COLUMNS.replace(/\br\./g, '')}`,
        [principal.businessId, refundId, principal.userId, note ?? null],
      );
      await this.record(tx, principal, meta, 'payment.refund_rejected', updated, { note: note ?? null });
      return updated;
    });
    return refundView(row);
  }

  async get(businessId: string, refundId: string): Promise<RefundView> {
    return refundView(await this.refund(businessId, refundId));
  }

  async list(businessId: string, query: ListRefundsQuery): Promise<Page<RefundView>> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    const params: unknown[] = [businessId];
    const where = ['r.business_id = $1'];
    if (query.status) where.push(`r.status = $${params.push(query.status)}`);
    if (query.cursor) {
      const [createdAt, id] = decodeCursor(query.cursor, 'refunds', 2);
      if (!UUID_SHAPE.test(id) || !TIMESTAMP_SHAPE.test(createdAt)) throw AppError.validation([{ field: 'cursor', code: 'invalid_cursor', message: 'cursor is not valid' }]);
      where.push(`(r.created_at, r.id) < ($${params.push(createdAt)}::timestamptz, $${params.push(id)}::uuid)`);
    }
    const rows: Array<RefundRow & { sort_key: string }> = await this.dataSource.query(
      `SELECT ${REFUND_COLUMNS}, r.created_at::text AS sort_key FROM refunds r WHERE ${where.join(' AND ')} ORDER BY r.created_at DESC, r.id DESC LIMIT ${limit + 1}`,
      params,
    );
    return toPage(rows, limit, 'refunds', (row) => [row.sort_key, row.id], refundView);
  }

  /**
   * Executes an approved provider refund. The provider call happens outside any transaction,
   * with the refund's own idempotency key, so a retry (this job's, or the sweeper's) never
   * refunds twice. Transient failures are retried by the queue; a refusal marks it failed.
   */
  @JobHandler('payments.execute-refund')
  async execute(payload: { refundId: string }, job?: Job): Promise<void> {
    const [refund]: RefundRow[] = await this.dataSource.query(`SELECT ${REFUND_COLUMNS} FROM refunds r WHERE r.id = $1`, [payload.refundId]);
    if (!refund || refund.status !== 'approved') return;
    const payment = await this.payment(refund.business_id, refund.payment_id);
    let outcome: { providerRefundId: string | null; status: ProviderRefund['status']; failureReason: string | null };
    try {
      outcome = await this.submit(refund, payment);
    } catch (error) {
      const final = job ? job.attemptsMade + 1 >= (job.opts.attempts ?? 1) : false;
      const permanent = error instanceof ProviderNotConfigured || (error instanceof ProviderError && !error.transient);
      if (!permanent && !final) throw error;
      this.logger.warn({ refundId: refund.id, err: error }, 'refund could not be executed');
      outcome = { providerRefundId: null, status: 'failed', failureReason: error instanceof ProviderError ? `${error.code}: ${error.message}`.slice(0, 500) : String((error as Error).message).slice(0, 500) };
    }
    await this.settleRefund(refund, outcome);
  }

  /**
   * A refund the provider reports (its webhook, or a refund made in its dashboard). Our own
   * refund is found by the provider's id or the id we sent along; anything else is recorded
   * as a provider-originated refund. Idempotent and order-independent: a succeeded refund
   * stays succeeded, and a provider saying "succeeded" overrides an earlier failure here.
   */
  async confirmProviderRefund(input: ProviderRefund): Promise<'recorded' | 'updated' | 'unchanged'> {
    const { payment } = input;
    return this.dataSource.transaction(async (tx) => {
      const invoice = await this.application.lockInvoice(tx, payment.business_id, payment.invoice_id);
      if (!invoice) throw refundNotFound();
      const ours = UUID_SHAPE.test(input.ledgerlineRefundId ?? '') ? input.ledgerlineRefundId : null;
      const [existing]: RefundRow[] = await tx.query(
        `SELECT ${REFUND_COLUMNS} FROM refunds r
          WHERE r.business_id = $1 AND r.payment_id = $2 AND ((r.provider = $3 AND r.provider_refund_id = $4) OR r.id = $5::uuid)
          ORDER BY (r.provider_refund_id = $4) DESC NULLS LAST LIMIT 1 FOR UPDATE`,
        [payment.business_id, payment.id, input.provider, input.providerRefundId, ours],
      );
      if (existing) {
        const next = existing.status === 'succeeded' || existing.status === 'rejected' || existing.status === 'pending_approval' ? existing.status : input.status;
        if (next === existing.status && existing.provider_refund_id === input.providerRefundId) return 'unchanged';
        await this.writeOutcome(tx, invoice, existing, { providerRefundId: input.providerRefundId, status: next, failureReason: input.failureReason ?? null });
        return 'updated';
      }
      if (input.status === 'failed') return 'unchanged';
      const refunded = await this.succeededTotal(tx, payment);
      if (input.status === 'succeeded' && refunded + input.amount > BigInt(payment.amount)) {
        throw AppError.conflict('refund_exceeds_payment', 'The provider reports more refunded than was paid.');
      }
      const [created]: RefundRow[] = await tx.query(
        `INSERT INTO refunds (business_id, payment_id, invoice_id, provider, kind, origin, amount, currency, reason, status, provider_refund_id, completed_at)
         VALUES ($1, $2, $3, $4, $5, 'provider', $6, $7, $8, $9, $10, CASE WHEN $9 = 'succeeded' THEN now() END)
         ON CONFLICT ON CONSTRAINT refunds_provider_refund_key DO NOTHING
         RETURNING ${REFUND_COLUMNS.replace(/\br\./g, '')}`,
        [
          payment.business_id, payment.id, payment.invoice_id, input.provider, input.kind, input.amount.toString(), input.currency,
          input.kind === 'reversal' ? `Reversed by ${input.provider}` : `Refunded at ${input.provider}`, input.status, input.providerRefundId,
        ],
      );
      if (!created) return 'unchanged';
      const settled = await this.application.settleLocked(tx, invoice, { paymentId: payment.id });
      await this.audit.record(
        {
          businessId: payment.business_id,
          actor: { type: 'provider', id: input.provider },
          action: input.kind === 'reversal' ? 'payment.reversed' : 'payment.refunded',
          entity: { type: 'refund', id: created.id },
          detail: { paymentId: payment.id, invoiceId: payment.invoice_id, amount: Number(input.amount), origin: 'provider', status: input.status, amountPaid: Number(settled.amountPaid) },
        },
        tx,
      );
      return 'recorded';
    });
  }

  /** Re-queues approved refunds whose job was lost (crash or queue outage between commit and enqueue). */
  @Interval('payments.refund-sweep', 60_000)
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const ids = await withAdvisoryXactLock(this.dataSource, 'payments.refund-sweep', async (tx) => {
        const rows: Array<{ id: string }> = await tx.query(`SELECT id FROM refunds WHERE status = 'approved' AND updated_at < now() - interval '1 minute' ORDER BY updated_at LIMIT 500`);
        return rows.map((row) => row.id);
      });
      for (const id of ids ?? []) await this.dispatch(id);
    } catch (error) {
      this.logger.warn({ err: error }, 'refund sweep failed; will retry');
    } finally {
      this.sweeping = false;
    }
  }

  /** Bounded and never throwing: the refund is durable (`approved`), the sweeper queues a lost job. */
  private async dispatch(refundId: string): Promise<void> {
    await this.jobs.tryDispatch('payments.execute-refund', { refundId }, { jobId: `refund.${refundId}` });
  }

  private async submit(refund: RefundRow, payment: PaymentRow): Promise<{ providerRefundId: string | null; status: ProviderRefund['status']; failureReason: string | null }> {
    const amount = BigInt(refund.amount);
    if (payment.provider === 'stripe') {
      const result = await this.stripe.createRefund(
        { paymentIntentId: payment.payment_intent_id ?? payment.provider_payment_id, amount, refundId: refund.id, businessId: refund.business_id, invoiceId: refund.invoice_id },
        refundIdempotencyKey(refund.id),
      );
      return { providerRefundId: result.id, status: stripeRefundStatus(result.status), failureReason: result.failureReason };
    }
    if (payment.provider === 'paypal') {
      const result = await this.paypal.refundCapture({ captureId: payment.capture_id ?? payment.provider_payment_id, amount, currency: refund.currency, refundId: refund.id }, refundIdempotencyKey(refund.id));
      return { providerRefundId: result.id, status: paypalRefundStatus(result.status), failureReason: null };
    }
    return { providerRefundId: null, status: 'succeeded', failureReason: null };
  }

  private async settleRefund(refund: RefundRow, outcome: { providerRefundId: string | null; status: ProviderRefund['status']; failureReason: string | null }): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      const invoice = await this.application.lockInvoice(tx, refund.business_id, refund.invoice_id);
      const current = await this.lockRefund(tx, refund.business_id, refund.id);
      // The webhook may have confirmed it meanwhile: never move a settled refund backwards.
      if (!invoice || !current || current.status !== 'approved') return;
      await this.writeOutcome(tx, invoice, current, outcome);
    });
  }

  /** Moves a refund to the provider's outcome; on success the invoice is settled again. */
  private async writeOutcome(tx: EntityManager, invoice: LockedInvoice, refund: RefundRow, outcome: { providerRefundId: string | null; status: RefundStatus; failureReason: string | null }): Promise<void> {
    const [updated]: RefundRow[] = await queryRows(tx,
      `UPDATE refunds SET status = $3, provider_refund_id = coalesce($4, provider_refund_id), failure_reason = CASE WHEN $3 = 'failed' THEN $5 ELSE NULL END,
              completed_at = CASE WHEN $3 = 'succeeded' THEN coalesce(completed_at, now()) ELSE completed_at END, updated_at = now()
        WHERE business_id = $1 AND id = $2 RETURNING ${REFUND_COLUMNS.replace(/\br\./g, '')}`,
      [refund.business_id, refund.id, outcome.status, outcome.providerRefundId, outcome.failureReason ?? 'refused by the provider'],
    );
    const actor = { type: 'provider' as const, id: refund.provider };
    if (outcome.status === 'succeeded' && refund.status !== 'succeeded') {
      const settled = await this.application.settleLocked(tx, invoice, { paymentId: refund.payment_id });
      await this.audit.record({ businessId: refund.business_id, actor, action: 'payment.refunded', entity: { type: 'refund', id: refund.id }, detail: { paymentId: refund.payment_id, amount: Number(refund.amount), providerRefundId: updated.provider_refund_id, amountPaid: Number(settled.amountPaid), status: settled.status } }, tx);
    } else if (outcome.status === 'failed' && refund.status !== 'failed') {
      await this.audit.record({ businessId: refund.business_id, actor, action: 'payment.refund_failed', entity: { type: 'refund', id: refund.id }, detail: { paymentId: refund.payment_id, amount: Number(refund.amount), reason: updated.failure_reason } }, tx);
    }
  }

  private async reserved(runner: Pick<EntityManager, 'query'>, payment: PaymentRow): Promise<bigint> {
    const [row]: Array<{ total: string }> = await runner.query(
      `SELECT coalesce(sum(amount), 0)::text AS total FROM refunds WHERE business_id = $1 AND payment_id = $2 AND status = ANY($3::text[])`,
      [payment.business_id, payment.id, RESERVING_REFUND_STATUSES],
    );
    return BigInt(row.total);
  }

  private async succeededTotal(runner: Pick<EntityManager, 'query'>, payment: PaymentRow): Promise<bigint> {
    const [row]: Array<{ total: string }> = await runner.query(
      `SELECT coalesce(sum(amount), 0)::text AS total FROM refunds WHERE business_id = $1 AND payment_id = $2 AND status = 'succeeded'`,
      [payment.business_id, payment.id],
    );
    return BigInt(row.total);
  }

  private async payment(businessId: string, paymentId: string, runner: Pick<EntityManager, 'query'> = this.dataSource): Promise<PaymentRow> {
    const [payment]: PaymentRow[] = await runner.query(`SELECT ${PAYMENT_COLUMNS} FROM payments p WHERE p.business_id = $1 AND p.id = $2`, [businessId, paymentId]);
    if (!payment) throw AppError.notFound('payment_not_found', 'No such payment.');
    return payment;
  }

  private async lockInvoiceOf(tx: EntityManager, payment: PaymentRow): Promise<LockedInvoice> {
    const invoice = await this.application.lockInvoice(tx, payment.business_id, payment.invoice_id);
    if (!invoice) throw AppError.notFound('payment_not_found', 'No such payment.');
    return invoice;
  }

  private async refund(businessId: string, refundId: string): Promise<RefundRow> {
    const [refund]: RefundRow[] = await this.dataSource.query(`SELECT ${REFUND_COLUMNS} FROM refunds r WHERE r.business_id = $1 AND r.id = $2`, [businessId, refundId]);
    if (!refund) throw refundNotFound();
    return refund;
  }

  private async lockRefund(tx: EntityManager, businessId: string, refundId: string): Promise<RefundRow | undefined> {
    const [refund]: RefundRow[] = await tx.query(`SELECT ${REFUND_COLUMNS} FROM refunds r WHERE r.business_id = $1 AND r.id = $2 FOR UPDATE`, [businessId, refundId]);
    return refund;
  }

  private record(tx: EntityManager, principal: Principal, meta: RequestMeta, action: string, refund: RefundRow, detail: Record<string, unknown>): Promise<void> {
    return this.audit.record(
      { businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action, entity: { type: 'refund', id: refund.id }, detail: { paymentId: refund.payment_id, invoiceId: refund.invoice_id, ...detail }, ...meta },
      tx,
    );
  }
}
