import { balanceDue, displayStatus, isOverdue, refusal, settledStatus, type InvoiceAction, type InvoiceState } from './invoice-status.js';

const state = (status: InvoiceState['status'], amountPaid = 0n, creditedTotal = 0n): InvoiceState => ({ status, amountPaid, creditedTotal });

describe('invoice state machine', () => {
  it.each<[InvoiceAction, InvoiceState, string | undefined]>([
    ['edit', state('draft'), undefined],
    ['edit', state('open'), undefined],
    ['edit', state('partially_paid', 10n), undefined],
    ['edit', state('paid', 100n), 'invoice_paid'],
    ['edit', state('void'), 'invoice_void'],
    ['finalize', state('draft'), undefined],
    ['finalize', state('open'), 'invoice_already_finalized'],
    ['finalize', state('void'), 'invoice_already_finalized'],
    ['send', state('draft'), undefined],
    ['send', state('open'), undefined],
    ['send', state('partially_paid', 1n), undefined],
    ['send', state('paid', 1n), 'invoice_paid'],
    ['send', state('void'), 'invoice_void'],
    ['void', state('draft'), undefined],
    ['void', state('open'), undefined],
    ['void', state('open', 0n, 5n), 'invoice_has_credit_notes'],
    ['void', state('partially_paid', 5n), 'invoice_has_payments'],
    ['void', state('paid', 100n), 'invoice_has_payments'],
    ['void', state('void'), 'invoice_void'],
    ['credit', state('draft'), 'invoice_not_finalized'],
    ['credit', state('open'), undefined],
    ['credit', state('partially_paid', 1n), undefined],
    ['credit', state('paid', 100n), undefined],
    ['credit', state('void'), 'invoice_void'],
    ['delete', state('draft'), undefined],
    ['delete', state('open'), 'invoice_not_draft'],
    ['pay', state('draft'), 'invoice_not_finalized'],
    ['pay', state('void'), 'invoice_void'],
    ['pay', state('open'), undefined],
  ])('%s from %o → %s', (action, from, expected) => {
    expect(refusal(action, from)).toBe(expected);
  });

  it('derives open, partially paid and paid from the amounts', () => {
    expect(settledStatus(1000n, 0n, 0n)).toBe('open');
    expect(settledStatus(1000n, 0n, 1n)).toBe('partially_paid');
    expect(settledStatus(1000n, 200n, 799n)).toBe('partially_paid');
    expect(settledStatus(1000n, 200n, 800n)).toBe('paid');
    expect(settledStatus(1000n, 1000n, 0n)).toBe('paid');
    expect(settledStatus(1000n, 0n, 1500n)).toBe('paid');
    expect(settledStatus(0n, 0n, 0n)).toBe('paid');
  });

  it('never shows a negative balance', () => {
    expect(balanceDue(1000n, 100n, 200n)).toBe(700n);
    expect(balanceDue(1000n, 0n, 1200n)).toBe(0n);
  });

  it('is overdue only when unpaid, finalised and past the due date', () => {
    expect(isOverdue('open', '2026-11-30', '2026-12-01')).toBe(true);
    expect(isOverdue('partially_paid', '2026-11-30', '2026-12-01')).toBe(true);
    expect(isOverdue('open', '2026-12-01', '2026-12-01')).toBe(false);
    expect(isOverdue('draft', '2026-01-01', '2026-12-01')).toBe(false);
    expect(isOverdue('paid', '2026-01-01', '2026-12-01')).toBe(false);
    expect(isOverdue('void', '2026-01-01', '2026-12-01')).toBe(false);
    expect(displayStatus('open', '2026-11-30', '2026-12-01')).toBe('overdue');
    expect(displayStatus('open', '2026-12-02', '2026-12-01')).toBe('open');
  });
});
