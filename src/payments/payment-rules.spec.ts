import {
  checkoutIdempotencyKey,
  formatDecimalAmount,
  invoiceReferenceFromCustomId,
  invoiceReferenceFromMetadata,
  parseDecimalAmount,
  paypalCustomId,
  refundable,
  refundIdempotencyKey,
  settle,
  stripeKeyMode,
  utcDate,
} from './payment-rules.js';

const BUSINESS = '11111111-1111-4111-8111-111111111111';
const INVOICE = '22222222-2222-4222-8222-222222222222';

describe('settle', () => {
  const open = { status: 'open' as const, total: 10_000n, creditedTotal: 0n };

  it.each<[string, bigint, bigint, string, bigint, bigint]>([
    ['nothing paid', 0n, 0n, 'open', 0n, 0n],
    ['part paid', 4_000n, 0n, 'partially_paid', 4_000n, 0n],
    ['paid exactly', 10_000n, 0n, 'paid', 10_000n, 0n],
    ['overpaid', 12_500n, 0n, 'paid', 12_500n, 2_500n],
    ['paid then partly refunded', 10_000n, 3_000n, 'partially_paid', 7_000n, 0n],
    ['paid then fully refunded', 10_000n, 10_000n, 'open', 0n, 0n],
    ['overpaid then the excess refunded', 12_500n, 2_500n, 'paid', 10_000n, 0n],
  ])('%s', (_name, payments, refunds, status, amountPaid, overpayment) => {
    expect(settle(open, payments, refunds)).toEqual({ status, amountPaid, overpayment });
  });

  it('counts credit notes as settled: the overpayment is what exceeds total minus credits', () => {
    expect(settle({ status: 'partially_paid', total: 10_000n, creditedTotal: 3_000n }, 8_000n, 0n)).toEqual({ status: 'paid', amountPaid: 8_000n, overpayment: 1_000n });
  });

  it('keeps the status of drafts and void invoices', () => {
    expect(settle({ status: 'draft', total: 100n, creditedTotal: 0n }, 100n, 0n).status).toBe('draft');
    expect(settle({ status: 'void', total: 100n, creditedTotal: 0n }, 0n, 0n).status).toBe('void');
  });

  it('refuses refunds beyond payments (amount paid can never be negative)', () => {
    expect(() => settle(open, 100n, 101n)).toThrow(RangeError);
  });
});

describe('refundable', () => {
  it('is what the reserving refunds leave, never negative', () => {
    expect(refundable(1000n, 0n)).toBe(1000n);
    expect(refundable(1000n, 400n)).toBe(600n);
    expect(refundable(1000n, 1000n)).toBe(0n);
    expect(refundable(1000n, 1200n)).toBe(0n);
  });
});

describe('idempotency keys', () => {
  const base: Parameters<typeof checkoutIdempotencyKey>[0] = { provider: 'stripe', invoiceId: INVOICE, version: 3, amount: 8704n, currency: 'EUR', linkDay: 20_000, linkEpoch: 0 };

  it('is stable for a retry and names the invoice, version and amount', () => {
    expect(checkoutIdempotencyKey(base)).toBe(checkoutIdempotencyKey({ ...base }));
    expect(checkoutIdempotencyKey(base)).toMatch(new RegExp(`^ledgerline-checkout-${INVOICE}-v3-8704-[A-Za-z0-9_-]{32}$`));
    expect(checkoutIdempotencyKey(base).length).toBeLessThanOrEqual(255);
  });

  it.each<[string, Partial<typeof base>]>([
    ['version', { version: 4 }],
    ['amount', { amount: 8000n }],
    ['currency', { currency: 'USD' }],
    ['link day', { linkDay: 20_001 }],
    ['link epoch', { linkEpoch: 1 }],
    ['provider', { provider: 'paypal' }],
  ])('changes with the %s', (_name, change) => {
    expect(checkoutIdempotencyKey({ ...base, ...change })).not.toBe(checkoutIdempotencyKey(base));
  });

  it('has one refund key per refund', () => {
    expect(refundIdempotencyKey(INVOICE)).toBe(`ledgerline-refund-${INVOICE}`);
  });
});

describe('stripeKeyMode', () => {
  it.each<[string, string | undefined]>([
    ['sk_live_abc', 'live'],
    ['rk_live_abc', 'live'],
    ['sk_test_abc', 'test'],
    ['rk_test_abc', 'test'],
    ['pk_live_abc', undefined],
    ['whatever', undefined],
  ])('%s is %s', (key, mode) => {
    expect(stripeKeyMode(key)).toBe(mode);
  });
});

describe('provider decimal amounts', () => {
  it.each<[string, string, bigint]>([
    ['12.34', 'EUR', 1234n],
    ['12.3', 'EUR', 1230n],
    ['12', 'EUR', 1200n],
    ['0.01', 'USD', 1n],
    ['1234', 'JPY', 1234n],
    ['1.234', 'BHD', 1234n],
  ])('%s %s is %s minor units', (value, currency, amount) => {
    expect(parseDecimalAmount(value, currency)).toBe(amount);
    expect(parseDecimalAmount(formatDecimalAmount(amount, currency), currency)).toBe(amount);
  });

  it.each<[string, unknown, string]>([
    ['a negative amount', '-1.00', 'EUR'],
    ['too many decimals', '1.001', 'EUR'],
    ['decimals on JPY', '12.5', 'JPY'],
    ['an exponent', '1e3', 'EUR'],
    ['a number instead of a string', 12.34, 'EUR'],
    ['leading zeros', '012.00', 'EUR'],
    ['10^12 minor units', '10000000000.00', 'EUR'],
    ['whitespace', ' 1.00', 'EUR'],
  ])('refuses %s', (_name, value, currency) => {
    expect(() => parseDecimalAmount(value, currency)).toThrow();
  });

  it('formats for PayPal', () => {
    expect(formatDecimalAmount(8704n, 'EUR')).toBe('87.04');
    expect(formatDecimalAmount(550n, 'JPY')).toBe('550');
  });
});

describe('invoice references', () => {
  it('reads Stripe metadata only when both ids are uuids', () => {
    expect(invoiceReferenceFromMetadata({ business_id: BUSINESS, invoice_id: INVOICE })).toEqual({ businessId: BUSINESS, invoiceId: INVOICE });
    expect(invoiceReferenceFromMetadata({ business_id: BUSINESS })).toBeUndefined();
    expect(invoiceReferenceFromMetadata({ business_id: 'x', invoice_id: INVOICE })).toBeUndefined();
    expect(invoiceReferenceFromMetadata(null)).toBeUndefined();
    expect(invoiceReferenceFromMetadata('text')).toBeUndefined();
  });

  it('round-trips the PayPal custom id and refuses anything else', () => {
    expect(invoiceReferenceFromCustomId(paypalCustomId({ businessId: BUSINESS, invoiceId: INVOICE }))).toEqual({ businessId: BUSINESS, invoiceId: INVOICE });
    expect(invoiceReferenceFromCustomId(`${BUSINESS}:${INVOICE}:extra`)).toBeUndefined();
    expect(invoiceReferenceFromCustomId(INVOICE)).toBeUndefined();
    expect(invoiceReferenceFromCustomId(42)).toBeUndefined();
  });
});

describe('utcDate', () => {
  it('takes Unix seconds, ISO instants, and falls back to today', () => {
    expect(utcDate(1_795_000_000)).toBe('2026-11-18');
    expect(utcDate('2026-11-30T23:59:59Z')).toBe('2026-11-30');
    expect(utcDate(undefined, new Date('2026-01-02T03:04:05Z'))).toBe('2026-01-02');
    expect(utcDate('garbage', new Date('2026-01-02T03:04:05Z'))).toBe('2026-01-02');
  });
});
