/**
 * The monthly reconciliation report, as pure functions over rows already read: payments
 * grouped by provider and payout (what arrives in the bank together), totals, and the
 * mismatches an accountant must look at. CSV through the formula-injection-safe `toCsv`.
 */
import { formatMoney } from '../common/money/money.js';
import { toCsv, type CsvCell, type NumericCell } from '../invoices/csv.js';
import type { PaymentMethod, PaymentProvider } from './payment-rules.js';

export interface ReconciliationPayment {
  paymentId: string;
  invoiceId: string;
  invoiceNumber: string | null;
  invoiceStatus: string;
  provider: PaymentProvider;
  method: PaymentMethod;
  receivedOn: string;
  currency: string;
  amount: number;
  fee: number | null;
  net: number | null;
  settlementCurrency: string | null;
  refunded: number;
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
  orderId: string | null;
  chargeId: string | null;
  captureId: string | null;
  balanceTransactionId: string | null;
  payoutId: string | null;
  cardBrand: string | null;
  cardLast4: string | null;
  reference: string | null;
}

export interface PayoutGroup {
  provider: PaymentProvider;
  /** null: not paid out yet, or not known (manual payments have no payout). */
  payoutId: string | null;
  currency: string;
  count: number;
  amount: number;
  fee: number;
  net: number;
  refunded: number;
  payments: ReconciliationPayment[];
}

export type MismatchKind = 'provider_payment_without_invoice' | 'refunded_at_provider' | 'reversed_by_provider' | 'disputed';

export interface Mismatch {
  kind: MismatchKind;
  provider: 'stripe' | 'paypal';
  occurredAt: string;
  invoiceId: string | null;
  invoiceNumber: string | null;
  invoiceStatus: string | null;
  paymentId: string | null;
  providerId: string | null;
  amount: number | null;
  currency: string | null;
  detail: string;
}

export interface ReconciliationReport {
  month: string;
  from: string;
  to: string;
  payouts: PayoutGroup[];
  totals: Array<{ currency: string; count: number; amount: number; fee: number; net: number; refunded: number }>;
  mismatches: Mismatch[];
}

/** [first day, first day of the next month) of a `YYYY-MM` month. */
export function monthRange(month: string): { from: string; until: string; to: string } {
  const [year, monthNumber] = month.split('-').map(Number);
  const from = new Date(Date.UTC(year, monthNumber - 1, 1));
  const until = new Date(Date.UTC(year, monthNumber, 1));
  const to = new Date(until.getTime() - 86_400_000);
  const day = (date: Date) => date.toISOString().slice(0, 10);
  return { from: day(from), until: day(until), to: day(to) };
}

/** Groups by provider, payout and currency, in a stable order (provider, then payout, unpaid-out last). */
export function buildReport(month: string, payments: ReconciliationPayment[], mismatches: Mismatch[]): ReconciliationReport {
  const { from, to } = monthRange(month);
  const groups = new Map<string, PayoutGroup>();
  for (const payment of payments) {
    const key = JSON.stringify([payment.provider, payment.payoutId, payment.currency]);
    let group = groups.get(key);
    if (!group) {
      group = { provider: payment.provider, payoutId: payment.payoutId, currency: payment.currency, count: 0, amount: 0, fee: 0, net: 0, refunded: 0, payments: [] };
      groups.set(key, group);
    }
    group.count += 1;
    group.amount += payment.amount;
    group.fee += payment.fee ?? 0;
    group.net += payment.net ?? payment.amount - (payment.fee ?? 0);
    group.refunded += payment.refunded;
    group.payments.push(payment);
  }
  const order = (group: PayoutGroup) => [group.provider, group.payoutId === null ? '\uffff' : group.payoutId, group.currency].join('\u0000');
  const payouts = [...groups.values()].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  const totals = new Map<string, ReconciliationReport['totals'][number]>();
  for (const group of payouts) {
    const total = totals.get(group.currency) ?? { currency: group.currency, count: 0, amount: 0, fee: 0, net: 0, refunded: 0 };
    total.count += group.count;
    total.amount += group.amount;
    total.fee += group.fee;
    total.net += group.net;
    total.refunded += group.refunded;
    totals.set(group.currency, total);
  }
  return { month, from, to, payouts, totals: [...totals.values()].sort((a, b) => a.currency.localeCompare(b.currency)), mismatches };
}

export const RECONCILIATION_CSV_HEADER = [
  'Record', 'Provider', 'Payout', 'Received on', 'Invoice', 'Invoice status', 'Method', 'Currency', 'Amount', 'Fee', 'Net', 'Refunded',
  'Checkout session', 'Payment intent or order', 'Charge or capture', 'Balance transaction', 'Card', 'Reference', 'Detail',
] as const;

function money(amount: number | null, currency: string | null): NumericCell | null {
  return amount === null || currency === null ? null : { number: formatMoney(BigInt(amount), currency) };
}

/** One CSV: a row per payment, a total row per payout group, then one row per mismatch. */
export function reconciliationCsv(report: ReconciliationReport): string {
  const rows: CsvCell[][] = [[...RECONCILIATION_CSV_HEADER]];
  for (const group of report.payouts) {
    for (const payment of group.payments) {
      rows.push([
        'payment', payment.provider, payment.payoutId, payment.receivedOn, payment.invoiceNumber ?? payment.invoiceId, payment.invoiceStatus, payment.method, payment.currency,
        money(payment.amount, payment.currency), money(payment.fee, payment.currency), money(payment.net, payment.currency), money(payment.refunded, payment.currency),
        payment.checkoutSessionId, payment.paymentIntentId ?? payment.orderId, payment.chargeId ?? payment.captureId, payment.balanceTransactionId,
        payment.cardBrand || payment.cardLast4 ? `${payment.cardBrand ?? ''} ${payment.cardLast4 ?? ''}`.trim() : null, payment.reference, null,
      ]);
    }
    rows.push([
      'payout total', group.provider, group.payoutId, null, null, null, null, group.currency, money(group.amount, group.currency), money(group.fee, group.currency),
      money(group.net, group.currency), money(group.refunded, group.currency), null, null, null, null, null, null, `${group.count} payments`,
    ]);
  }
  for (const mismatch of report.mismatches) {
    rows.push([
      `mismatch: ${mismatch.kind}`, mismatch.provider, null, mismatch.occurredAt.slice(0, 10), mismatch.invoiceNumber ?? mismatch.invoiceId, mismatch.invoiceStatus, null, mismatch.currency,
      money(mismatch.amount, mismatch.currency), null, null, null, null, mismatch.providerId, null, null, null, null, mismatch.detail,
    ]);
  }
  return toCsv(rows);
}
