/**
 * What a signed link shows, as pure mappings from the internal views. Whitelists, not
 * blacklists: only the fields below leave the system, so a field added to InvoiceView or
 * EstimateView later stays internal until someone adds it here on purpose. Never included:
 * the customer's id, email, phone, address, tax id and notes; the void reason; versions,
 * send counts, view times, created/updated stamps and ids of related records.
 */
import type { LineView } from '../invoices/document-lines.js';
import type { EstimateStatus, EstimateView } from '../invoices/estimate-view.js';
import type { DisplayStatus, InvoiceView } from '../invoices/invoice-view.js';

export interface PublicBusiness {
  name: string;
  address: string | null;
}

export interface PublicLine {
  description: string;
  quantity: string;
  unitPrice: number;
  taxRateBps: number;
  /** Line discount plus its share of the document discount. */
  discount: number;
  tax: number;
  /** Including tax. */
  total: number;
}

export interface TaxRow {
  rateBps: number;
  amount: number;
}

interface PublicDocument {
  id: string;
  number: string | null;
  currency: string;
  issueDate: string;
  business: PublicBusiness;
  customer: { name: string };
  lines: PublicLine[];
  subtotal: number;
  discountTotal: number;
  /** Tax per rate, when the lines' taxes add up to the document's tax total (they do by construction). */
  taxes: TaxRow[];
  taxTotal: number;
  total: number;
  notes: string | null;
  terms: string | null;
}

export interface PublicInvoice extends PublicDocument {
  kind: 'invoice';
  status: DisplayStatus;
  dueDate: string;
  creditedTotal: number;
  amountPaid: number;
  balanceDue: number;
  /** When a paid invoice was settled (the time it last changed: a paid invoice cannot be edited). */
  paidAt: string | null;
  paymentInstructions: string | null;
  /** The online payment buttons shown: only for an unpaid, finalised invoice with that provider configured. */
  payment: { card: boolean; paypal: boolean };
  links: { pdf: string };
}

export interface PublicEstimate extends PublicDocument {
  kind: 'estimate';
  status: EstimateStatus;
  expiryDate: string;
  acceptedAt: string | null;
  declinedAt: string | null;
  /** Accept and Decline are offered (a sent estimate that has not expired). */
  canRespond: boolean;
}

export interface DocumentParties {
  business: PublicBusiness & { paymentInstructions: string | null };
  customerName: string;
}

function publicLines(lines: LineView[]): PublicLine[] {
  return lines.map((line) => ({
    description: line.description,
    quantity: line.quantity,
    unitPrice: line.unitPrice,
    taxRateBps: line.taxRateBps,
    discount: line.discountTotal,
    tax: line.tax,
    total: line.total,
  }));
}

/** Tax grouped by rate (ascending), leaving out zero amounts; empty when it would not add up to `taxTotal`. */
export function taxRows(lines: LineView[], taxTotal: number): TaxRow[] {
  const byRate = new Map<number, number>();
  for (const line of lines) byRate.set(line.taxRateBps, (byRate.get(line.taxRateBps) ?? 0) + line.tax);
  const rows = [...byRate.entries()].filter(([, amount]) => amount !== 0).sort(([a], [b]) => a - b).map(([rateBps, amount]) => ({ rateBps, amount }));
  return rows.reduce((sum, row) => sum + row.amount, 0) === taxTotal ? rows : [];
}

function documentPart(view: InvoiceView | EstimateView, parties: DocumentParties): PublicDocument {
  return {
    id: view.id,
    number: view.number,
    currency: view.currency,
    issueDate: view.issueDate,
    business: { name: parties.business.name, address: parties.business.address },
    customer: { name: parties.customerName },
    lines: publicLines(view.lines),
    subtotal: view.subtotal,
    discountTotal: view.discountTotal,
    taxes: taxRows(view.lines, view.taxTotal),
    taxTotal: view.taxTotal,
    total: view.total,
    notes: view.notes,
    terms: view.terms,
  };
}

export function publicInvoice(view: InvoiceView, parties: DocumentParties, options: { providers: { card: boolean; paypal: boolean }; pdfUrl: string }): PublicInvoice {
  const payable = view.status !== 'void' && view.status !== 'paid' && view.status !== 'draft' && view.balanceDue > 0;
  return {
    kind: 'invoice',
    ...documentPart(view, parties),
    status: view.displayStatus,
    dueDate: view.dueDate,
    creditedTotal: view.creditedTotal,
    amountPaid: view.amountPaid,
    balanceDue: view.balanceDue,
    paidAt: view.status === 'paid' ? view.updatedAt : null,
    paymentInstructions: view.status === 'void' ? null : parties.business.paymentInstructions,
    payment: { card: payable && options.providers.card, paypal: payable && options.providers.paypal },
    links: { pdf: options.pdfUrl },
  };
}

export function publicEstimate(view: EstimateView, parties: DocumentParties): PublicEstimate {
  return {
    kind: 'estimate',
    ...documentPart(view, parties),
    status: view.status,
    expiryDate: view.expiryDate,
    acceptedAt: view.acceptedAt,
    declinedAt: view.declinedAt,
    canRespond: view.status === 'sent',
  };
}
