import { buildReport, monthRange, reconciliationCsv, type Mismatch, type ReconciliationPayment } from './reconciliation.js';

const payment = (overrides: Partial<ReconciliationPayment>): ReconciliationPayment => ({
  paymentId: 'p', invoiceId: 'i', invoiceNumber: 'INV-2026-0001', invoiceStatus: 'paid', provider: 'stripe', method: 'card', receivedOn: '2026-11-03',
  currency: 'EUR', amount: 10_000, fee: 315, net: 9_685, settlementCurrency: 'EUR', refunded: 0, checkoutSessionId: 'cs_1', paymentIntentId: 'pi_1',
  orderId: null, chargeId: 'ch_1', captureId: null, balanceTransactionId: 'txn_1', payoutId: null, cardBrand: 'visa', cardLast4: '4242', reference: null,
  ...overrides,
});

describe('monthRange', () => {
  it.each<[string, string, string, string]>([
    ['2026-11', '2026-11-01', '2026-12-01', '2026-11-30'],
    ['2026-12', '2026-12-01', '2027-01-01', '2026-12-31'],
    ['2028-02', '2028-02-01', '2028-03-01', '2028-02-29'],
  ])('%s is [%s, %s), last day %s', (month, from, until, to) => {
    expect(monthRange(month)).toEqual({ from, until, to });
  });
});

describe('buildReport', () => {
  it('groups by provider, payout and currency (not yet paid out last) with totals', () => {
    const report = buildReport('2026-11', [
      payment({ paymentId: 'a', payoutId: null }),
      payment({ paymentId: 'b', payoutId: 'po_1', amount: 5_000, fee: 170, net: 4_830 }),
      payment({ paymentId: 'c', payoutId: 'po_1', amount: 2_000, fee: 83, net: 1_917, refunded: 500 }),
      payment({ paymentId: 'd', provider: 'manual', method: 'cash', fee: null, net: null, amount: 3_000 }),
      payment({ paymentId: 'e', provider: 'paypal', method: 'paypal', currency: 'USD', amount: 1_000, fee: 84, net: 916 }),
    ], []);
    expect(report.payouts.map((group) => [group.provider, group.payoutId, group.currency, group.count, group.amount, group.fee, group.net, group.refunded])).toEqual([
      ['manual', null, 'EUR', 1, 3_000, 0, 3_000, 0],
      ['paypal', null, 'USD', 1, 1_000, 84, 916, 0],
      ['stripe', 'po_1', 'EUR', 2, 7_000, 253, 6_747, 500],
      ['stripe', null, 'EUR', 1, 10_000, 315, 9_685, 0],
    ]);
    expect(report.totals).toEqual([
      { currency: 'EUR', count: 4, amount: 20_000, fee: 568, net: 19_432, refunded: 500 },
      { currency: 'USD', count: 1, amount: 1_000, fee: 84, net: 916, refunded: 0 },
    ]);
    expect(report).toMatchObject({ month: '2026-11', from: '2026-11-01', to: '2026-11-30' });
  });
});

describe('reconciliationCsv', () => {
  const mismatch: Mismatch = {
    kind: 'disputed', provider: 'stripe', occurredAt: '2026-11-05T10:00:00.000Z', invoiceId: 'i', invoiceNumber: 'INV-2026-0001', invoiceStatus: 'paid',
    paymentId: 'p', providerId: 'dp_1', amount: 10_000, currency: 'EUR', detail: 'disputed (fraudulent; needs_response)',
  };

  it('writes a payment row per payment, a payout total per group and a row per mismatch', () => {
    const csv = reconciliationCsv(buildReport('2026-11', [payment({})], [mismatch]));
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('Record,Provider,Payout,Received on,Invoice,Invoice status,Method,Currency,Amount,Fee,Net,Refunded,Checkout session,Payment intent or order,Charge or capture,Balance transaction,Card,Reference,Detail');
    expect(lines[1]).toBe('payment,stripe,,2026-11-03,INV-2026-0001,paid,card,EUR,100.00,3.15,96.85,0.00,cs_1,pi_1,ch_1,txn_1,visa 4242,,');
    expect(lines[2]).toBe('payout total,stripe,,,,,,EUR,100.00,3.15,96.85,0.00,,,,,,,1 payments');
    expect(lines[3]).toBe('mismatch: disputed,stripe,,2026-11-05,INV-2026-0001,paid,,EUR,100.00,,,,,dp_1,,,,,disputed (fraudulent; needs_response)');
    expect(csv.endsWith('\r\n')).toBe(true);
  });

  it('neutralises formulas in text from users and providers', () => {
    const csv = reconciliationCsv(buildReport('2026-11', [payment({ reference: '=HYPERLINK("http://evil.test")', provider: 'manual', method: 'cash' })], []));
    expect(csv).toContain(`"'=HYPERLINK(""http://evil.test"")"`);
  });
});
