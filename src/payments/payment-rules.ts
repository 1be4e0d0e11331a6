/**
 * Payment rules as pure functions: what an invoice's money adds up to, what can still be
 * refunded, provider amounts and keys. No I/O, no Nest.
 *
 * Amount paid is always recomputed from the ledger, never incremented:
 *   amount paid = Σ payments − Σ succeeded refunds (and reversals)
 * and anything paid beyond what is owed (total − credited) is the customer's credit.
 */
import { createHash } from 'node:crypto';
import { minorUnits } from '../common/money/currencies.js';
import { formatMoney, MAX_AMOUNT } from '../common/money/money.js';
import { settledStatus } from '../invoices/invoice-status.js';
import type { InvoiceStatus } from '../invoices/invoice-view.js';

export const PAYMENT_PROVIDERS = ['stripe', 'paypal', 'manual'] as const;
export type PaymentProvider = (typeof PAYMENT_PROVIDERS)[number];

/** How a manual payment arrived (provider payments are `card` or `paypal`). */
export const MANUAL_METHODS = ['cash', 'cheque', 'bank_transfer', 'other'] as const;
export type ManualMethod = (typeof MANUAL_METHODS)[number];
export type PaymentMethod = ManualMethod | 'card' | 'paypal';

export const REFUND_STATUSES = ['pending_approval', 'rejected', 'approved', 'submitted', 'succeeded', 'failed'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];
/** Refunds that hold part of a payment: a new request can only take what is left. */
export const RESERVING_REFUND_STATUSES: readonly RefundStatus[] = ['pending_approval', 'approved', 'submitted', 'succeeded'];

export interface InvoiceMoney {
  status: InvoiceStatus;
  total: bigint;
  creditedTotal: bigint;
}

export interface SettledInvoice {
  amountPaid: bigint;
  status: InvoiceStatus;
  /** What the customer paid beyond what is owed: their credit from this invoice. */
  overpayment: bigint;
}

/**
 * The invoice after its payments and refunds: amount paid from the ledger, the status that
 * follows from the amounts (drafts and void invoices keep theirs), and the overpayment.
 */
export function settle(invoice: InvoiceMoney, paymentsTotal: bigint, succeededRefundsTotal: bigint): SettledInvoice {
  const amountPaid = paymentsTotal - succeededRefundsTotal;
  if (amountPaid < 0n) throw new RangeError('refunds exceed payments');
  const finalised = invoice.status === 'open' || invoice.status === 'partially_paid' || invoice.status === 'paid';
  const status = finalised ? settledStatus(invoice.total, invoice.creditedTotal, amountPaid) : invoice.status;
  const owed = invoice.total - invoice.creditedTotal;
  const overpayment = finalised && amountPaid > owed ? amountPaid - owed : 0n;
  return { amountPaid, status, overpayment };
}

/** What is left to refund on a payment, given the refunds that hold part of it. */
export function refundable(paymentAmount: bigint, reservedByRefunds: bigint): bigint {
  const left = paymentAmount - reservedByRefunds;
  return left > 0n ? left : 0n;
}

/**
 * The Stripe idempotency key of a Checkout Session for an invoice: derived from the invoice, its
 * version, the amount and currency, and the signed link the customer came through (its issue day
 * and epoch are in the success and cancel URLs, and Stripe refuses a key reused with other
 * parameters). A retry of the same click therefore reuses the key and gets the same session; a
 * changed invoice or amount gets a new one.
 */
export function checkoutIdempotencyKey(input: { provider: 'stripe' | 'paypal'; invoiceId: string; version: number; amount: bigint; currency: string; linkDay: number; linkEpoch: number }): string {
  const digest = createHash('sha256')
    .update([input.provider, input.invoiceId, input.version, input.amount.toString(), input.currency, input.linkDay, input.linkEpoch].join('\n'))
    .digest('base64url')
    .slice(0, 32);
  return `ledgerline-checkout-${input.invoiceId}-v${input.version}-${input.amount}-${digest}`;
}

/** The provider-side idempotency key of one refund: every retry of its execution reuses it. */
export function refundIdempotencyKey(refundId: string): string {
  return `ledgerline-refund-${refundId}`;
}

/** `live`, `test`, or undefined for a key that is neither (restricted keys count like secret keys). */
export function stripeKeyMode(secretKey: string): 'live' | 'test' | undefined {
  if (/^(sk|rk)_live_/.test(secretKey)) return 'live';
  if (/^(sk|rk)_test_/.test(secretKey)) return 'test';
  return undefined;
}

const DECIMAL_AMOUNT = /^(0|[1-9]\d{0,12})(?:\.(\d{1,3}))?$/;

/**
 * A provider's decimal amount ("12.34", "1234" for JPY) in minor units of `currency`. Refuses
 * signs, exponents, more decimals than the currency has, and amounts at or above MAX_AMOUNT.
 */
export function parseDecimalAmount(value: unknown, currency: string): bigint {
  if (typeof value !== 'string') throw new RangeError('amount is not a decimal string');
  const exponent = minorUnits(currency);
  const match = DECIMAL_AMOUNT.exec(value);
  if (!match) throw new RangeError(`"${value.slice(0, 20)}" is not a decimal amount`);
  const [, whole, fraction = ''] = match;
  if (fraction.length > exponent) throw new RangeError(`${currency} has ${exponent} decimal places`);
  const amount = BigInt(whole) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, '0') || '0');
  if (amount >= MAX_AMOUNT) throw new RangeError('amount is too large');
  return amount;
}

/** Minor units as the decimal string PayPal expects ("12.34", "1234" for JPY). */
export function formatDecimalAmount(amount: bigint, currency: string): string {
  return formatMoney(amount, currency);
}

/** The invoice a provider payment belongs to, from the metadata we put on the checkout. */
export interface InvoiceReference {
  businessId: string;
  invoiceId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** `{ business_id, invoice_id }` metadata (Stripe), or undefined when either is missing or not a uuid. */
export function invoiceReferenceFromMetadata(metadata: unknown): InvoiceReference | undefined {
  if (!metadata || typeof metadata !== 'object') return undefined;
  const { business_id: businessId, invoice_id: invoiceId } = metadata as Record<string, unknown>;
  return isUuid(businessId) && isUuid(invoiceId) ? { businessId, invoiceId } : undefined;
}

/** PayPal's `custom_id`, which we set to `<businessId>:<invoiceId>`. */
export function invoiceReferenceFromCustomId(customId: unknown): InvoiceReference | undefined {
  if (typeof customId !== 'string') return undefined;
  const [businessId, invoiceId, extra] = customId.split(':');
  return extra === undefined && isUuid(businessId) && isUuid(invoiceId) ? { businessId, invoiceId } : undefined;
}

export function paypalCustomId(reference: InvoiceReference): string {
  return `${reference.businessId}:${reference.invoiceId}`;
}

/** A UTC calendar date from a Unix time in seconds or an ISO instant; today when absent or invalid. */
export function utcDate(value: number | string | null | undefined, now: Date = new Date()): string {
  const time = typeof value === 'number' ? value * 1000 : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return new Date(Number.isFinite(time) ? time : now.getTime()).toISOString().slice(0, 10);
}
