import type { LineView } from './document-lines.js';

export const ESTIMATE_STATUSES = ['draft', 'sent', 'accepted', 'declined', 'expired', 'converted'] as const;
export type EstimateStatus = (typeof ESTIMATE_STATUSES)[number];

/** An estimate (quote) as the API returns it. Amounts are integer minor units of `currency`. */
export interface EstimateView {
  id: string;
  number: string | null;
  /** `expired` is shown for a sent estimate whose expiry date has passed, even before the sweeper stores it. */
  status: EstimateStatus;
  customerId: string;
  currency: string;
  issueDate: string;
  expiryDate: string;
  notes: string | null;
  terms: string | null;
  lines: LineView[];
  discount: number;
  subtotal: number;
  discountTotal: number;
  taxTotal: number;
  total: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
  lastSentAt: string | null;
  sendCount: number;
  viewedAt: string | null;
  acceptedAt: string | null;
  declinedAt: string | null;
  convertedAt: string | null;
  /** The draft invoice created from this estimate, once converted. */
  convertedInvoiceId: string | null;
}
