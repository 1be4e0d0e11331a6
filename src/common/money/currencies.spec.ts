import { CURRENCIES, isCurrency, minorUnits } from './currencies.js';
import { MoneyError } from './money-error.js';

describe('currencies', () => {
  const EXPECTED: Record<string, number> = {
    USD: 2, EUR: 2, GBP: 2, CAD: 2, AUD: 2, NZD: 2, CHF: 2, SEK: 2, NOK: 2, DKK: 2, PLN: 2, CZK: 2, HUF: 2,
    INR: 2, CNY: 2, HKD: 2, SGD: 2, MXN: 2, BRL: 2, ZAR: 2, AED: 2, SAR: 2, ILS: 2, TRY: 2, THB: 2, MYR: 2,
    IDR: 2, PHP: 2,
    JPY: 0, KRW: 0, ISK: 0, CLP: 0, VND: 0, XAF: 0, XOF: 0, XPF: 0, PYG: 0, UGX: 0,
    BHD: 3, KWD: 3, OMR: 3, JOD: 3, TND: 3, IQD: 3, LYD: 3,
  };

  it.each(Object.entries(EXPECTED))('%s has %i decimal places', (code, exponent) => {
    expect(isCurrency(code)).toBe(true);
    expect(minorUnits(code)).toBe(exponent);
  });

  it('holds only upper-case three-letter codes with exponent 0, 2 or 3', () => {
    expect(CURRENCIES.size).toBeGreaterThan(140);
    for (const [code, exponent] of CURRENCIES) {
      expect(code).toMatch(/^[A-Z]{3}$/);
      expect([0, 2, 3]).toContain(exponent);
    }
  });

  it.each([
    'usd', 'Usd', ' USD', 'USD ', 'USDX', 'US', '', 'XXX', 'XAU', 'XDR', 'HRK', 'ABC', 'constructor', '__proto__', 'toString',
  ])('refuses %j', (code) => {
    expect(isCurrency(code)).toBe(false);
    expect(() => minorUnits(code)).toThrow(expect.objectContaining({ name: 'MoneyError', code: 'unknown_currency' }));
  });

  it.each([null, undefined, 840, ['USD'], { code: 'USD' }])('isCurrency refuses the non-string %p', (value) => {
    expect(isCurrency(value)).toBe(false);
  });

  it('throws a MoneyError instance', () => {
    expect(() => minorUnits('usd')).toThrow(MoneyError);
  });
});
