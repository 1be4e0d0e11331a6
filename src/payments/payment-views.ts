import type { PaymentRow } from './payment-application.service.js';
import type { PaymentMethod, PaymentProvider, RefundStatus } from './payment-rules.js';

export interface RefundRow {
  id: string;
  business_id: string;
  payment_id: string;
  invoice_id: string;
  provider: PaymentProvider;
  kind: 'refund' | 'reversal';
  origin: 'requested' | 'provider';
  amount: string;
  currency: string;
  reason: string;
  status: RefundStatus;
  requested_by: string | null;
  decided_by: string | null;
  decided_at: Date | null;
  decision_note: string | null;
  provider_refund_id: string | null;
  failure_reason: string | null;
  completed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export const REFUND_COLUMNS = `r.id, r.business_id, r.payment_id, r.invoice_id, r.provider, r.kind, r.origin, r.amount, r.currency, r.reason, r.status,
  r.requested_by, r.decided_by, r.decided_at, r.decision_note, r.provider_refund_id, r.failure_reason, r.completed_at, r.created_at, r.updated_at`;

export interface DisputeRow {
  id: string;
  payment_id: string;
  invoice_id: string;
  provider: 'stripe' | 'paypal';
  provider_dispute_id: string;
  amount: string;
  currency: string;
  reason: string | null;
  status: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface RefundView {
  id: string;
  paymentId: string;
  invoiceId: string;
  provider: PaymentProvider;
  kind: 'refund' | 'reversal';
  /** `requested` here (maker–checker) or reported by the `provider` (made in its dashboard, a reversal). */
  origin: 'requested' | 'provider';
  amount: number;
  currency: string;
  reason: string;
  status: RefundStatus;
  requestedBy: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionNote: string | null;
  providerRefundId: string | null;
  failureReason: string | null;
  completedAt: string | null;
  createdAt: string;
}

export interface DisputeView {
  id: string;
  paymentId: string;
  provider: 'stripe' | 'paypal';
  providerDisputeId: string;
  amount: number;
  currency: string;
  reason: string | null;
  status: string | null;
  openedAt: string;
}

export interface PaymentView {
  id: string;
  invoiceId: string;
  provider: PaymentProvider;
  method: PaymentMethod;
  amount: number;
  currency: string;
  fee: number | null;
  net: number | null;
  settlementCurrency: string | null;
  receivedOn: string;
  reference: string | null;
  card: { brand: string | null; last4: string | null } | null;
  providerIds: {
    providerPaymentId: string;
    checkoutSessionId: string | null;
    paymentIntentId: string | null;
    chargeId: string | null;
    orderId: string | null;
    captureId: string | null;
    balanceTransactionId: string | null;
    payoutId: string | null;
  };
  refundedAmount: number;
  refundableAmount: number;
  refunds: RefundView[];
  disputes: DisputeView[];
  recordedBy: string | null;
  createdAt: string;
}

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

export function refundView(row: RefundRow): RefundView {
  return {
    id: row.id,
    paymentId: row.payment_id,
    invoiceId: row.invoice_id,
    provider: row.provider,
    kind: row.kind,
    origin: row.origin,
    amount: Number(row.amount),
    currency: row.currency,
    reason: row.reason,
    status: row.status,
    requestedBy: row.requested_by,
    decidedBy: row.decided_by,
    decidedAt: iso(row.decided_at),
    decisionNote: row.decision_note,
    providerRefundId: row.provider_refund_id,
    failureReason: row.failure_reason,
    completedAt: iso(row.completed_at),
    createdAt: row.created_at.toISOString(),
  };
}

export function disputeView(row: DisputeRow): DisputeView {
  return {
    id: row.id,
    paymentId: row.payment_id,
    provider: row.provider,
    providerDisputeId: row.provider_dispute_id,
    amount: Number(row.amount),
    currency: row.currency,
    reason: row.reason,
    status: row.status,
    openedAt: row.created_at.toISOString(),
  };
}

/** `payment` with its refunds and disputes (refunded = succeeded; refundable = what no refund holds). */
export function paymentView(row: PaymentRow, refunds: RefundRow[], disputes: DisputeRow[]): PaymentView {
  const refunded = refunds.filter((refund) => refund.status === 'succeeded').reduce((sum, refund) => sum + BigInt(refund.amount), 0n);
  const reserved = refunds
    .filter((refund) => refund.status === 'pending_approval' || refund.status === 'approved' || refund.status === 'submitted' || refund.status === 'succeeded')
    .reduce((sum, refund) => sum + BigInt(refund.amount), 0n);
  const left = BigInt(row.amount) - reserved;
  return {
    id: row.id,
    invoiceId: row.invoice_id,
    provider: row.provider,
    method: row.method,
    amount: Number(row.amount),
    currency: row.currency,
    fee: row.fee === null ? null : Number(row.fee),
    net: row.net === null ? null : Number(row.net),
    settlementCurrency: row.settlement_currency,
    receivedOn: row.received_on,
    reference: row.reference,
    card: row.card_brand || row.card_last4 ? { brand: row.card_brand, last4: row.card_last4 } : null,
    providerIds: {
      providerPaymentId: row.provider_payment_id,
      checkoutSessionId: row.checkout_session_id,
      paymentIntentId: row.payment_intent_id,
      chargeId: row.charge_id,
      orderId: row.order_id,
      captureId: row.capture_id,
      balanceTransactionId: row.balance_transaction_id,
      payoutId: row.payout_id,
    },
    refundedAmount: Number(refunded),
    refundableAmount: Number(left > 0n ? left : 0n),
    refunds: refunds.map(refundView),
    disputes: disputes.map(disputeView),
    recordedBy: row.recorded_by,
    createdAt: row.created_at.toISOString(),
  };
}
