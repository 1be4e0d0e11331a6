import { effectiveStatus, ESTIMATE_ACTIONS, REFUSAL_DETAILS, refusal, statusAfter, type EstimateAction } from './estimate-status.js';
import { ESTIMATE_STATUSES, type EstimateStatus } from './estimate-view.js';

describe('estimate state machine', () => {
  // Every (status, action) pair: undefined means allowed.
  const table: Record<EstimateStatus, Record<EstimateAction, string | undefined>> = {
    draft: { edit: undefined, send: undefined, accept: 'estimate_not_sent', decline: 'estimate_not_sent', convert: 'estimate_not_accepted', delete: undefined },
    sent: { edit: undefined, send: undefined, accept: undefined, decline: undefined, convert: 'estimate_not_accepted', delete: 'estimate_not_draft' },
    accepted: { edit: 'estimate_accepted', send: 'estimate_accepted', accept: 'estimate_accepted', decline: 'estimate_accepted', convert: undefined, delete: 'estimate_not_draft' },
    declined: { edit: 'estimate_declined', send: 'estimate_declined', accept: 'estimate_declined', decline: 'estimate_declined', convert: 'estimate_declined', delete: 'estimate_not_draft' },
    expired: { edit: 'estimate_expired', send: 'estimate_expired', accept: 'estimate_expired', decline: 'estimate_expired', convert: 'estimate_expired', delete: 'estimate_not_draft' },
    converted: { edit: 'estimate_converted', send: 'estimate_converted', accept: 'estimate_converted', decline: 'estimate_converted', convert: 'estimate_already_converted', delete: 'estimate_not_draft' },
  };
  const pairs = ESTIMATE_STATUSES.flatMap((status) => ESTIMATE_ACTIONS.map((action): [EstimateStatus, EstimateAction, string | undefined] => [status, action, table[status][action]]));

  it('covers all 36 pairs', () => {
    expect(pairs).toHaveLength(36);
  });

  it.each(pairs)('%s + %s → %s', (status, action, expected) => {
    expect(refusal(action, status)).toBe(expected);
  });

  it('explains every refusal code', () => {
    const codes = new Set(pairs.map(([, , code]) => code).filter((code): code is string => code !== undefined));
    for (const code of codes) expect(REFUSAL_DETAILS[code]).toEqual(expect.any(String));
  });

  it.each<[Exclude<EstimateAction, 'delete'>, EstimateStatus, EstimateStatus]>([
    ['edit', 'draft', 'draft'],
    ['edit', 'sent', 'sent'],
    ['send', 'draft', 'sent'],
    ['send', 'sent', 'sent'],
    ['accept', 'sent', 'accepted'],
    ['decline', 'sent', 'declined'],
    ['convert', 'accepted', 'converted'],
  ])('%s from %s leads to %s', (action, from, to) => {
    expect(statusAfter(action, from)).toBe(to);
  });

  it('shows a sent estimate as expired only once its expiry date has passed (UTC calendar)', () => {
    expect(effectiveStatus('sent', '2026-11-30', '2026-11-30')).toBe('sent');
    expect(effectiveStatus('sent', '2026-11-30', '2026-12-01')).toBe('expired');
    expect(effectiveStatus('sent', '2026-12-31', '2027-01-01')).toBe('expired');
    for (const status of ['draft', 'accepted', 'declined', 'converted', 'expired'] as const) {
      expect(effectiveStatus(status, '2026-01-01', '2026-12-01')).toBe(status);
    }
  });
});
