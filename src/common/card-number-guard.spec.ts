import { containsCardNumber, luhnValid } from './card-number-guard.js';

// Published test numbers of the card networks (Stripe / Adyen test sets).
const TEST_PANS = {
  'Visa 16': '4242424242424242',
  'Visa 16 (b)': '4012888888881881',
  'Visa 13': '4222222222222',
  'Visa 19': '4000000000000000006',
  'Mastercard 5-series': '5555555555554444',
  'Mastercard 2-series': '2223003122003222',
  Amex: '378282246310005',
  Discover: '6011111111111117',
  Diners: '3056930009020004',
  JCB: '3566002020360505',
  UnionPay: '6200000000000005',
};

/** Flips the last digit so the number fails Luhn. */
const breakLuhn = (pan: string): string => pan.slice(0, -1) + String((Number(pan.at(-1)) + 1) % 10);

describe('luhnValid', () => {
  it.each(Object.entries(TEST_PANS))('accepts the %s test number', (_name, pan) => {
    expect(luhnValid(pan)).toBe(true);
  });

  it.each(Object.entries(TEST_PANS))('refuses the %s test number with its last digit changed', (_name, pan) => {
    expect(luhnValid(breakLuhn(pan))).toBe(false);
  });

  it.each(['', ' ', '4242 4242 4242 4242', '4242-4242', 'abc', '４２４２', '-18'])('refuses the non-digit string %p', (value) => {
    expect(luhnValid(value)).toBe(false);
  });

  it('follows the textbook examples', () => {
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    expect(luhnValid('0')).toBe(true);
    expect(luhnValid('18')).toBe(true);
  });
});

describe('containsCardNumber: finds cards', () => {
  it.each(Object.entries(TEST_PANS))('finds the bare %s test number', (_name, pan) => {
    expect(containsCardNumber(pan)).toBe(true);
  });

  it.each(Object.entries(TEST_PANS))('finds the %s test number inside a sentence, grouped by four with spaces and dashes', (_name, pan) => {
    const groups = pan.match(/.{1,4}/g) ?? [];
    expect(containsCardNumber(`Please charge ${groups.join(' ')} today.`)).toBe(true);
    expect(containsCardNumber(`card: ${groups.join('-')}`)).toBe(true);
  });

  it.each([
    '4242 4242 4242 4242',
    '4000-0566-5566-5556',
    '378282246310005',
    '3782 822463 10005',
    '3056 930009 0204',
    'ref 4242424242424242 ok',
    'Paid with 5555 5555 5555 4444, thanks!',
    'card=4242424242424242',
    '#4242424242424242',
    '(4242424242424242)',
    '"4242424242424242"',
    'pan:4012888888881881\nexp 12/30',
    '4242 4242-4242 4242',
    // Text around the card that is itself made of digits.
    '4242 4242 4242 4242 2 items',
    'Qty 3 4242 4242 4242 4242',
    '2025-01-31 4242424242424242',
    '4242 4242 4242 4242 4242',
    'first line\n\n6011 1111 1111 1117\nlast line',
  ])('finds a card in %p', (text) => {
    expect(containsCardNumber(text)).toBe(true);
  });
});

describe('containsCardNumber: leaves other text alone', () => {
  it.each(Object.entries(TEST_PANS))('ignores the %s test number when it fails Luhn', (_name, pan) => {
    expect(containsCardNumber(breakLuhn(pan))).toBe(false);
    expect(containsCardNumber(`card ${breakLuhn(pan).match(/.{1,4}/g)?.join(' ')}`)).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['plain text', 'Thanks for your business, see you next month.'],
    ['12 digits (too short)', '424242424242'],
    ['12 digits, Luhn-valid', '424242424241'],
    ['20-digit unbroken run (Luhn-valid)', '42424242424242424242'],
    ['20-digit unbroken run with a card prefix', '42424242424242424242 ok'],
    ['25-digit reference', 'ref 4242424242424242000000000'],
    ['UK phone', '+44 20 7946 0958'],
    ['UK phone with 00 prefix', '0044 20 7946 0958'],
    ['US phone', '+1 (415) 555-2671'],
    ['US phone with extension', '+1 415-555-2671 ext 1234'],
    ['ISO date', '2025-01-31'],
    ['date and time', '2025-01-31 12:30:00'],
    ['date range', '2025-01-01 - 2025-12-31'],
    ['invoice number', 'INV-2025-0001'],
    ['long invoice number', 'INV-2025-4242424242424242'],
    ['invoice number with slashes', 'inv/2025/4242424242424242'],
    ['uuid', '12345678-1234-4123-8abc-0123456789ab'],
    ['uuid made of digits only', '42424242-4242-4242-4242-424242424242'],
    ['uuid in a sentence', 'request 12345678-1234-4123-8123-012345678912 failed'],
    ['IBAN grouped', 'IBAN GB82 WEST 1234 5698 7654 32'],
    ['IBAN with digits only after the bank code', 'DE89 3704 0044 0532 0130 00'],
    ['IBAN unbroken', 'DE89370400440532013000'],
    ['digits glued to letters before', 'abc4242424242424242'],
    ['digits glued to letters after', '4242424242424242xyz'],
    ['digits joined to a code by a dash', 'order-4242424242424242'],
    ['digits joined to a code by an underscore', 'sku_4242424242424242'],
    ['card-like run inside a hex string', 'deadbeef4242424242424242cafe'],
    ['amount', 'Total: 1,234,567.89 EUR'],
    ['list of small numbers', '1 2 3 4 5 6 7 8 9 10 11 12 13 14 15'],
    ['pairs of digits', '42 42 42 42 42 42 42 42'],
    ['double separators', '4242  4242  4242  4242'],
    ['starts with zero', '0000 0000 0000 0000'],
  ])('ignores %s', (_name, text) => {
    expect(containsCardNumber(text)).toBe(false);
  });

  it('refuses a non-string at run time', () => {
    expect(containsCardNumber(undefined as unknown as string)).toBe(false);
  });

  it('stays fast on a long run of digit groups', () => {
    const text = '1234 '.repeat(20_000);
    const started = performance.now();
    containsCardNumber(text);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
