import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { isCurrency } from '../common/money/currencies.js';
import type { PaymentMethod, PaymentProvider } from './payment-rules.js';
import { paypalMoney } from './paypal.gateway.js';
import { buildReport, monthRange, type Mismatch, type ReconciliationPayment, type ReconciliationReport } from './reconciliation.js';

interface PaymentLine {
  id: string;
  invoice_id: string;
  number: string | null;
  invoice_status: string;
  provider: PaymentProvider;
  method: PaymentMethod;
  received_on: string;
  currency: string;
  amount: string;
  fee: string | null;
  net: string | null;
  settlement_currency: string | null;
  refunded: string;
  checkout_session_id: string | null;
  payment_intent_id: string | null;
  order_id: string | null;
  charge_id: string | null;
  capture_id: string | null;
  balance_transaction_id: string | null;
  payout_id: string | null;
  card_brand: string | null;
  card_last4: string | null;
  reference: string | null;
}

// Failure reasons meaning "the provider has money for an invoice we could not apply it to".
const UNAPPLIED_REASONS = ['invoice_not_found', 'invoice_void', 'invoice_not_finalized', 'currency_mismatch', 'missing_invoice_reference'];

const num = (value: string | null): number | null => (value === null ? null : Number(value));

/**
 * Reads one month of a business's payments (by the day the money was received, UTC) and the
 * month's mismatches: provider payments we could not apply, refunds and reversals the provider
 * reported without a request here, and disputes. Everything is scoped by business id.
 */
@Injectable()
export class ReconciliationService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async report(principal: Principal, month: string, format: 'json' | 'csv', meta: RequestMeta): Promise<ReconciliationReport> {
    const businessId = principal.businessId;
    const { from, until } = monthRange(month);
    const lines: PaymentLine[] = await this.dataSource.query(
      `SELECT p.id, p.invoice_id, i.number, i.status AS invoice_status, p.provider, p.method, p.received_on, p.currency, p.amount, p.fee, p.net,
              p.settlement_currency, p.checkout_session_id, p.payment_intent_id, p.order_id, p.charge_id, p.capture_id, p.balance_transaction_id,
              p.payout_id, p.card_brand, p.card_last4, p.reference,
              (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.business_id = p.business_id AND r.payment_id = p.id AND r.status = 'succeeded')::text AS refunded
         FROM payments p JOIN invoices i ON i.business_id = p.business_id AND i.id = p.invoice_id
        WHERE p.business_id = $1 AND p.received_on >= $2::date AND p.received_on < $3::date
        ORDER BY p.received_on, p.created_at, p.id`,
      [businessId, from, until],
    );
    const payments: ReconciliationPayment[] = lines.map((line) => ({
      paymentId: line.id,
      invoiceId: line.invoice_id,
      invoiceNumber: line.number,
      invoiceStatus: line.invoice_status,
      provider: line.provider,
      method: line.method,
      receivedOn: line.received_on,
      currency: line.currency,
      amount: Number(line.amount),
      fee: num(line.fee),
      net: num(line.net),
      settlementCurrency: line.settlement_currency,
      refunded: Number(line.refunded),
      checkoutSessionId: line.checkout_session_id,
      paymentIntentId: line.payment_intent_id,
      orderId: line.order_id,
      chargeId: line.charge_id,
      captureId: line.capture_id,
      balanceTransactionId: line.balance_transaction_id,
      payoutId: line.payout_id,
      cardBrand: line.card_brand,
      cardLast4: line.card_last4,
      reference: line.reference,
    }));
    const mismatches = [...(await this.unapplied(businessId, from, until)), ...(await this.providerRefunds(businessId, from, until)), ...(await this.disputes(businessId, from, until))];
    mismatches.sort((a, b) => (a.occurredAt < b.occurredAt ? -1 : a.occurredAt > b.occurredAt ? 1 : 0));
    await this.audit.recordSoon({ businessId, actor: { type: 'user', id: principal.userId }, action: 'payments.reconciliation_viewed', detail: { month, format }, ...meta });
    return buildReport(month, payments, mismatches);
  }

  private async unapplied(businessId: string, from: string, until: string): Promise<Mismatch[]> {
    const rows: Array<{ id: string; provider: 'stripe' | 'paypal'; event_id: string; event_type: string; failure_reason: string; received_at: Date; payload: unknown }> = await this.dataSource.query(
      `SELECT id, provider, event_id, event_type, failure_reason, received_at, payload FROM webhook_events
        WHERE business_id = $1 AND status = 'failed' AND split_part(failure_reason, ':', 1) = ANY($4::text[])
          AND received_at >= $2::date AND received_at < $3::date
        ORDER BY received_at, id`,
      [businessId, from, until, UNAPPLIED_REASONS],
    );
    return rows.map((row) => {
      const facts = eventFacts(row.provider, row.payload);
      return {
        kind: 'provider_payment_without_invoice' as const,
        provider: row.provider,
        occurredAt: row.received_at.toISOString(),
        invoiceId: facts.invoiceId,
        invoiceNumber: null,
        invoiceStatus: null,
        paymentId: null,
        providerId: facts.providerId ?? row.event_id,
        amount: facts.amount,
        currency: facts.currency,
        detail: `${row.event_type}: ${row.failure_reason}`,
      };
    });
  }

  private async providerRefunds(businessId: string, from: string, until: string): Promise<Mismatch[]> {
    const rows: Array<{ kind: 'refund' | 'reversal'; provider: 'stripe' | 'paypal'; provider_refund_id: string | null; amount: string; currency: string; created_at: Date; invoice_id: string; number: string | null; status: string; payment_id: string }> =
      await this.dataSource.query(
        `SELECT r.kind, r.provider, r.provider_refund_id, r.amount, r.currency, r.created_at, r.invoice_id, i.number, i.status, r.payment_id
           FROM refunds r JOIN invoices i ON i.business_id = r.business_id AND i.id = r.invoice_id
          WHERE r.business_id = $1 AND r.origin = 'provider' AND r.status = 'succeeded' AND r.created_at >= $2::date AND r.created_at < $3::date
          ORDER BY r.created_at, r.id`,
        [businessId, from, until],
      );
    return rows.map((row) => ({
      kind: row.kind === 'reversal' ? ('reversed_by_provider' as const) : ('refunded_at_provider' as const),
      provider: row.provider,
      occurredAt: row.created_at.toISOString(),
      invoiceId: row.invoice_id,
      invoiceNumber: row.number,
      invoiceStatus: row.status,
      paymentId: row.payment_id,
      providerId: row.provider_refund_id,
      amount: Number(row.amount),
      currency: row.currency,
      detail: row.kind === 'reversal' ? 'the provider reversed this payment' : 'refunded at the provider without a refund request here',
    }));
  }

  private async disputes(businessId: string, from: string, until: string): Promise<Mismatch[]> {
    const rows: Array<{ provider: 'stripe' | 'paypal'; provider_dispute_id: string; amount: string; currency: string; reason: string | null; status: string | null; created_at: Date; invoice_id: string; number: string | null; invoice_status: string; payment_id: string }> =
      await this.dataSource.query(
        `SELECT d.provider, d.provider_dispute_id, d.amount, d.currency, d.reason, d.status, d.created_at, d.invoice_id, i.number, i.status AS invoice_status, d.payment_id
           FROM disputes d JOIN invoices i ON i.business_id = d.business_id AND i.id = d.invoice_id
          WHERE d.business_id = $1 AND d.created_at >= $2::date AND d.created_at < $3::date
          ORDER BY d.created_at, d.id`,
        [businessId, from, until],
      );
    return rows.map((row) => ({
      kind: 'disputed' as const,
      provider: row.provider,
      occurredAt: row.created_at.toISOString(),
      invoiceId: row.invoice_id,
      invoiceNumber: row.number,
      invoiceStatus: row.invoice_status,
      paymentId: row.payment_id,
      providerId: row.provider_dispute_id,
      amount: Number(row.amount),
      currency: row.currency,
      detail: `disputed (${row.reason ?? 'no reason given'}; ${row.status ?? 'status unknown'})`,
    }));
  }
}

type Json = Record<string, unknown>;
const object = (value: unknown): Json | undefined => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined);

/** The provider id, amount and invoice an unapplied event was about, as far as its (redacted) payload says. */
function eventFacts(provider: 'stripe' | 'paypal', payload: unknown): { providerId: string | null; amount: number | null; currency: string | null; invoiceId: string | null } {
  const empty = { providerId: null, amount: null, currency: null, invoiceId: null };
  if (provider === 'stripe') {
    const data = object(object(object(payload)?.data)?.object);
    if (!data) return empty;
    const currency = typeof data.currency === 'string' ? data.currency.toUpperCase() : null;
    const amount = typeof data.amount_total === 'number' ? data.amount_total : typeof data.amount === 'number' ? data.amount : null;
    const metadata = object(data.metadata);
    const paymentIntent = typeof data.payment_intent === 'string' ? data.payment_intent : typeof data.id === 'string' ? data.id : null;
    return {
      providerId: paymentIntent,
      amount: currency && isCurrency(currency) && amount !== null && Number.isSafeInteger(amount) ? amount : null,
      currency: currency && isCurrency(currency) ? currency : null,
      invoiceId: typeof metadata?.invoice_id === 'string' ? metadata.invoice_id.slice(0, 64) : null,
    };
  }
  const resource = object(object(payload)?.resource);
  const money = paypalMoney(resource?.amount);
  const customId = typeof resource?.custom_id === 'string' ? resource.custom_id : '';
  return { providerId: typeof resource?.id === 'string' ? resource.id : null, amount: money ? Number(money.amount) : null, currency: money?.currency ?? null, invoiceId: customId.split(':')[1]?.slice(0, 64) ?? null };
}
