/**
 * The invoice state machine, as pure rules.
 *
 *   draft ──finalise/send──► open ──payment──► partially_paid ──payment──► paid
 *     │                       │
 *     └────────void──────────┘   (void: only with no payments and no credit notes)
 *
 * `open`, `partially_paid` and `paid` are not chosen by anyone: they follow from the amounts
 * (`settledStatus`), so a status can never disagree with the money. `overdue` is not stored:
 * it is an unpaid, finalised invoice whose due date has passed (UTC calendar).
 */
import type { DisplayStatus, InvoiceStatus } from './invoice-view.js';

export type InvoiceAction = 'edit' | 'finalize' | 'send' | 'void' | 'credit' | 'delete' | 'pay';

export interface InvoiceState {
  status: InvoiceStatus;
  amountPaid: bigint;
  creditedTotal: bigint;
}

/** Why an action is refused in a state (a stable API error code), or undefined when allowed. */
export function refusal(action: InvoiceAction, state: InvoiceState): string | undefined {
  const { status } = state;
  switch (action) {
    case 'edit':
      if (status === 'paid') return 'invoice_paid';
      if (status === 'void') return 'invoice_void';
      return undefined;
    case 'finalize':
      return status === 'draft' ? undefined : 'invoice_already_finalized';
    case 'send':
      if (status === 'void') return 'invoice_void';
      if (status === 'paid') return 'invoice_paid';
      return undefined;
    case 'void':
      if (status === 'void') return 'invoice_void';
      if (status !== 'draft' && status !== 'open') return 'invoice_has_payments';
      if (state.amountPaid > 0n) return 'invoice_has_payments';
      if (state.creditedTotal > 0n) return 'invoice_has_credit_notes';
      return undefined;
    case 'credit':
      if (status === 'draft') return 'invoice_not_finalized';
      if (status === 'void') return 'invoice_void';
      return undefined;
    case 'delete':
      return status === 'draft' ? undefined : 'invoice_not_draft';
    case 'pay':
      if (status === 'draft') return 'invoice_not_finalized';
      if (status === 'void') return 'invoice_void';
      return undefined;
  }
}

/** The status of a finalised, non-void invoice given its amounts. */
export function settledStatus(total: bigint, creditedTotal: bigint, amountPaid: bigint): Extract<InvoiceStatus, 'open' | 'partially_paid' | 'paid'> {
  if (amountPaid + creditedTotal >= total) return 'paid';
  if (amountPaid > 0n) return 'partially_paid';
  return 'open';
}

/** total − credited − paid, never below zero (an overpayment is a customer credit, not a negative balance). */
export function balanceDue(total: bigint, creditedTotal: bigint, amountPaid: bigint): bigint {
  const balance = total - creditedTotal - amountPaid;
  return balance > 0n ? balance : 0n;
}

export function isOverdue(status: InvoiceStatus, dueDate: string, today: string): boolean {
  return (status === 'open' || status === 'partially_paid') && dueDate < today;
}

export function displayStatus(status: InvoiceStatus, dueDate: string, today: string): DisplayStatus {
  return isOverdue(status, dueDate, today) ? 'overdue' : status;
}
