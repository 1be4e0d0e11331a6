import type { LineView } from './document-lines.js';

export const INVOICE_STATUSES = ['draft', 'open', 'partially_paid', 'paid', 'void'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];
/** What a person sees: the stored status, or `overdue` for an unpaid invoice past its due date. */
export type DisplayStatus = InvoiceStatus | 'overdue';

/** An invoice as the API returns it. Amounts are integer minor units of `currency`. */
export interface InvoiceView {
  id: string;
  number: string | null;
  status: InvoiceStatus;
  displayStatus: DisplayStatus;
  overdue: boolean;
  customerId: string;
  currency: string;
  issueDate: string;
  dueDate: string;
  notes: string | null;
  terms: string | null;
  lines: LineView[];
  /** The document discount as entered. */
  discount: number;
  subtotal: number;
  /** Line discounts plus the document discount. */
  discountTotal: number;
  taxTotal: number;
  total: number;
  creditedTotal: number;
  amountPaid: number;
  /** total − credited − paid, never below zero. */
  balanceDue: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  finalizedAt: string | null;
  sentAt: string | null;
  lastSentAt: string | null;
  sendCount: number;
  viewedAt: string | null;
  voidedAt: string | null;
  voidReason: string | null;
  sourceEstimateId: string | null;
  recurringInvoiceId: string | null;
  /** The newest email about the invoice and its delivery state (single-invoice views only). */
  lastEmail?: LastEmail | null;
}

export interface LastEmail {
  id: string;
  template: string;
  status: 'queued' | 'sending' | 'sent' | 'captured' | 'failed' | 'suppressed' | 'cancelled';
  errorCode: string | null;
  createdAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
  failedAt: string | null;
}

/** The parties printed on a PDF (loaded with the invoice, never from the request). */
export interface InvoiceParties {
  business: { name: string; address: string | null; paymentInstructions: string | null };
  customer: { name: string; email: string | null; phone: string | null; billingAddress: BillingAddress | null };
}

export interface BillingAddress {
  line1?: string;
  line2?: string;
  city?: string;
  region?: string;
  postalCode?: string;
  /** ISO 3166-1 alpha-2. */
  country?: string;
}
