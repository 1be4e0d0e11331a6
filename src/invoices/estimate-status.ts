/**
 * The estimate (quote) state machine, as pure rules.
 *
 *   draft ──send──► sent ──accept──► accepted ──convert──► converted
 *     │              │ ╲
 *     │              │  ╲──decline──► declined
 *     │              └── (expiry date passed) ──► expired
 *     └──delete (drafts only)
 *
 * A sent estimate may be sent again and edited (it keeps its number). `expired` needs no one to
 * act: a sent estimate whose expiry date is before today (UTC calendar) is expired, whether or
 * not the sweeper has stored it yet. accepted, declined, expired and converted are final, except
 * that an accepted estimate converts into an invoice, once.
 */
import type { EstimateStatus } from './estimate-view.js';

export const ESTIMATE_ACTIONS = ['edit', 'send', 'accept', 'decline', 'convert', 'delete'] as const;
export type EstimateAction = (typeof ESTIMATE_ACTIONS)[number];

/** The code that refuses any action on an estimate in one of the final states. */
const FINAL: Partial<Record<EstimateStatus, string>> = {
  accepted: 'estimate_accepted',
  declined: 'estimate_declined',
  expired: 'estimate_expired',
  converted: 'estimate_converted',
};

/** The status a person sees: `expired` for a sent estimate past its expiry date. */
export function effectiveStatus(status: EstimateStatus, expiryDate: string, today: string): EstimateStatus {
  return status === 'sent' && expiryDate < today ? 'expired' : status;
}

/** Why an action is refused in a status (a stable API error code), or undefined when allowed. Pass the effective status. */
export function refusal(action: EstimateAction, status: EstimateStatus): string | undefined {
  switch (action) {
    case 'edit':
    case 'send':
      return status === 'draft' || status === 'sent' ? undefined : FINAL[status];
    case 'accept':
    case 'decline':
      if (status === 'sent') return undefined;
      return status === 'draft' ? 'estimate_not_sent' : FINAL[status];
    case 'convert':
      if (status === 'accepted') return undefined;
      if (status === 'converted') return 'estimate_already_converted';
      return status === 'draft' || status === 'sent' ? 'estimate_not_accepted' : FINAL[status];
    case 'delete':
      return status === 'draft' ? undefined : 'estimate_not_draft';
  }
}

/** The status after an allowed action (delete has none: the estimate is gone). */
export function statusAfter(action: Exclude<EstimateAction, 'delete'>, status: EstimateStatus): EstimateStatus {
  switch (action) {
    case 'edit':
      return status;
    case 'send':
      return 'sent';
    case 'accept':
      return 'accepted';
    case 'decline':
      return 'declined';
    case 'convert':
      return 'converted';
  }
}

/** What each refusal tells a person. */
export const REFUSAL_DETAILS: Record<string, string> = {
  estimate_accepted: 'This estimate was accepted: it can no longer change. Convert it into an invoice instead.',
  estimate_declined: 'This estimate was declined: it can no longer change.',
  estimate_expired: 'This estimate has expired: it can no longer be changed or answered. Create a new estimate.',
  estimate_converted: 'This estimate was converted into an invoice: change the invoice instead.',
  estimate_already_converted: 'This estimate was already converted into an invoice.',
  estimate_not_sent: 'Send the estimate to the customer first.',
  estimate_not_accepted: 'Only an accepted estimate can be converted into an invoice.',
  estimate_not_draft: 'Only a draft estimate can be deleted.',
};
