import {
  MAX_AMOUNT,
  MoneyError,
  type LineInput,
  type MoneyErrorCode,
  documentTotals,
  formatMoney,
  lineAmounts,
  parseMinorUnits,
  parseQuantity,
  roundHalfEven,
} from './money.js';

const q = (value: string | number) => parseQuantity(value);

function codeOf(fn: () => unknown): MoneyErrorCode | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof MoneyError) return error.code;
    throw error;
  }
  return undefined;
}

describe('roundHalfEven', () => {
  it.each([
    [5n, 10n, 0n], // 0.5
    [15n, 10n, 2n], // 1.5
    [25n, 10n, 2n], // 2.5
    [35n, 10n, 4n], // 3.5
    [251n, 100n, 3n], // 2.51
    [249n, 100n, 2n], // 2.49
    [-25n, 10n, -2n], // -2.5
    [-35n, 10n, -4n], // -3.5
    [-251n, 100n, -3n], // -2.51
    [-5n, 10n, 0n], // -0.5
    [0n, 7n, 0n],
    [21n, 7n, 3n], // exact
    [1n, 3n, 0n],
    [2n, 3n, 1n],
  ])('%p / %p = %p', (numerator, denominator, expected) => {
    expect(roundHalfEven(numerator, denominator)).toBe(expected);
  });

  it('refuses a non-positive denominator', () => {
    expect(() => roundHalfEven(1n, 0n)).toThrow(RangeError);
    expect(() => roundHalfEven(1n, -2n)).toThrow(RangeError);
  });
});

describe('parseMinorUnits', () => {
  it.each([
    [0, 0n],
    ['0', 0n],
    [123450, 123450n],
    ['123450', 123450n],
    [999_999_999_999, 999_999_999_999n],
    ['999999999999', 999_999_999_999n],
  ])('accepts %p', (value, expected) => {
    expect(parseMinorUnits(value, 'USD')).toBe(expected);
  });

  it('is the same for zero- and three-decimal currencies (the unit is already minor)', () => {
    expect(parseMinorUnits('1500', 'JPY')).toBe(1500n);
    expect(parseMinorUnits(1234, 'BHD')).toBe(1234n);
  });

  it.each<[unknown, MoneyErrorCode]>([
    [1.5, 'not_an_integer'],
    [0.1, 'not_an_integer'],
    [NaN, 'not_an_integer'],
    [Infinity, 'not_an_integer'],
    [-Infinity, 'not_an_integer'],
    ['1.50', 'not_an_integer'],
    ['1e3', 'not_an_integer'],
    ['1E3', 'not_an_integer'],
    ['+100', 'not_an_integer'],
    [' 100', 'not_an_integer'],
    ['100 ', 'not_an_integer'],
    ['1 000', 'not_an_integer'],
    ['1_000', 'not_an_integer'],
    ['0x10', 'not_an_integer'],
    ['007', 'not_an_integer'],
    ['', 'not_an_integer'],
    ['NaN', 'not_an_integer'],
    ['Infinity', 'not_an_integer'],
    ['١٢٣', 'not_an_integer'], // Arabic-Indic digits
    [null, 'not_an_integer'],
    [undefined, 'not_an_integer'],
    [true, 'not_an_integer'],
    [100n, 'not_an_integer'],
    [[100], 'not_an_integer'],
    [{ amount: 100 }, 'not_an_integer'],
    [-1, 'negative'],
    ['-1', 'negative'],
    ['-0', 'negative'],
    [1e12, 'too_large'],
    ['1000000000000', 'too_large'],
    [Number.MAX_SAFE_INTEGER, 'too_large'],
    [2 ** 60, 'too_large'],
    ['9'.repeat(400), 'too_large'],
  ])('refuses %p with %s', (value, code) => {
    expect(codeOf(() => parseMinorUnits(value, 'USD'))).toBe(code);
  });

  it.each(['usd', 'XXX', '', 'EURO'])('refuses the currency %j before looking at the amount', (currency) => {
    expect(codeOf(() => parseMinorUnits('100', currency))).toBe('unknown_currency');
    expect(codeOf(() => parseMinorUnits('abc', currency))).toBe('unknown_currency');
  });

  it('throws MoneyError with a message', () => {
    expect(() => parseMinorUnits('1.5', 'USD')).toThrow(MoneyError);
    expect(() => parseMinorUnits('1.5', 'USD')).toThrow(/integer/);
  });
});

describe('parseQuantity', () => {
  it.each<[string | number, bigint]>([
    ['2', 20000n],
    ['2.5', 25000n],
    ['2.50', 25000n],
    ['0.0001', 1n],
    ['0.1', 1000n],
    ['1000000000', 10_000_000_000_000n],
    ['999999999.9999', 9_999_999_999_999n],
    [3, 30000n],
    [2.5, 25000n],
    [0.1, 1000n],
    [0.0001, 1n],
    [1.2345, 12345n],
    [1e9, 10_000_000_000_000n],
  ])('parses %p', (value, units) => {
    expect(parseQuantity(value)).toEqual({ units, scale: 4 });
  });

  it.each<[unknown, MoneyErrorCode]>([
    ['0.00001', 'too_many_decimals'],
    ['1.23456', 'too_many_decimals'],
    [1.23456, 'too_many_decimals'],
    [0.00001, 'too_many_decimals'],
    [1e-7, 'too_many_decimals'],
    ['1e3', 'not_a_decimal'],
    ['2.', 'not_a_decimal'],
    ['.5', 'not_a_decimal'],
    ['+2', 'not_a_decimal'],
    [' 2', 'not_a_decimal'],
    ['2 ', 'not_a_decimal'],
    ['2,5', 'not_a_decimal'],
    ['02', 'not_a_decimal'],
    ['', 'not_a_decimal'],
    ['abc', 'not_a_decimal'],
    [NaN, 'not_a_decimal'],
    [Infinity, 'not_a_decimal'],
    [null, 'not_a_decimal'],
    [2n, 'not_a_decimal'],
    [{}, 'not_a_decimal'],
    ['-1', 'negative'],
    ['-0.5', 'negative'],
    [-2, 'negative'],
    ['0', 'zero'],
    ['0.0000', 'zero'],
    [0, 'zero'],
    ['1000000000.0001', 'too_large'],
    ['10000000000', 'too_large'],
    [1e9 + 1, 'too_large'],
    [1e22, 'too_large'],
    ['9'.repeat(400), 'too_large'],
  ])('refuses %p with %s', (value, code) => {
    expect(codeOf(() => parseQuantity(value))).toBe(code);
  });
});

describe('lineAmounts', () => {
  it('rounds the subtotal and the tax half-even', () => {
    // 2.5 × 19.99 = 49.975 → 49.98 (half to even); 20% of 49.98 = 9.996 → 10.00
    expect(lineAmounts({ quantity: q('2.5'), unitPrice: 1999n, taxRateBps: 2000 })).toEqual({
      subtotal: 4998n,
      discount: 0n,
      taxable: 4998n,
      tax: 1000n,
      total: 5998n,
    });
  });

  it('subtracts the line discount before tax', () => {
    // 3 × 10.00 = 30.00, − 5.00 = 25.00; 8.25% = 2.0625 → 2.06
    expect(lineAmounts({ quantity: q('3'), unitPrice: 1000n, taxRateBps: 825, discount: 500n })).toEqual({
      subtotal: 3000n,
      discount: 500n,
      taxable: 2500n,
      tax: 206n,
      total: 2706n,
    });
  });

  it('rounds an exact half of tax to even', () => {
    expect(lineAmounts({ quantity: q('1'), unitPrice: 25n, taxRateBps: 1000 }).tax).toBe(2n); // 2.5
    expect(lineAmounts({ quantity: q('1'), unitPrice: 35n, taxRateBps: 1000 }).tax).toBe(4n); // 3.5
  });

  it('works for JPY (0 decimals) and BHD (3 decimals)', () => {
    // 1.5 × ¥333 = 499.5 → ¥500; 10% → ¥50
    const jpy = lineAmounts({ quantity: q('1.5'), unitPrice: 333n, taxRateBps: 1000 });
    expect(jpy).toEqual({ subtotal: 500n, discount: 0n, taxable: 500n, tax: 50n, total: 550n });
    expect(formatMoney(jpy.total, 'JPY')).toBe('550');
    // 2 × 1.250 BHD = 2.500; 10% → 0.250
    const bhd = lineAmounts({ quantity: q('2'), unitPrice: 1250n, taxRateBps: 1000 });
    expect(bhd).toEqual({ subtotal: 2500n, discount: 0n, taxable: 2500n, tax: 250n, total: 2750n });
    expect(formatMoney(bhd.total, 'BHD')).toBe('2.750');
  });

  it('allows a zero price, a full discount and 0% or 100% tax', () => {
    expect(lineAmounts({ quantity: q('4'), unitPrice: 0n, taxRateBps: 2000 }).total).toBe(0n);
    expect(lineAmounts({ quantity: q('1'), unitPrice: 500n, taxRateBps: 2000, discount: 500n }).total).toBe(0n);
    expect(lineAmounts({ quantity: q('1'), unitPrice: 500n, taxRateBps: 0 }).total).toBe(500n);
    expect(lineAmounts({ quantity: q('1'), unitPrice: 500n, taxRateBps: 10_000 }).total).toBe(1000n);
  });

  const base: LineInput = { quantity: q('1'), unitPrice: 1000n, taxRateBps: 2000 };
  it.each<[string, Partial<LineInput>, MoneyErrorCode]>([
    ['discount above subtotal', { discount: 1001n }, 'discount_exceeds_subtotal'],
    ['negative discount', { discount: -1n }, 'negative'],
    ['negative unit price', { unitPrice: -1n }, 'negative'],
    ['unit price at MAX_AMOUNT', { unitPrice: MAX_AMOUNT }, 'too_large'],
    ['subtotal at MAX_AMOUNT', { quantity: q('2'), unitPrice: MAX_AMOUNT / 2n }, 'too_large'],
    ['total at MAX_AMOUNT', { unitPrice: MAX_AMOUNT / 2n, taxRateBps: 10_000 }, 'too_large'],
    ['tax rate above 10000', { taxRateBps: 10_001 }, 'invalid_tax_rate'],
    ['negative tax rate', { taxRateBps: -1 }, 'invalid_tax_rate'],
    ['fractional tax rate', { taxRateBps: 20.5 }, 'invalid_tax_rate'],
    ['NaN tax rate', { taxRateBps: NaN }, 'invalid_tax_rate'],
    ['zero quantity', { quantity: { units: 0n, scale: 4 } }, 'zero'],
    ['negative quantity', { quantity: { units: -1n, scale: 4 } }, 'negative'],
    ['number unit price', { unitPrice: 1000 as unknown as bigint }, 'not_an_integer'],
  ])('refuses %s', (_name, change, code) => {
    expect(codeOf(() => lineAmounts({ ...base, ...change }))).toBe(code);
  });
});

describe('documentTotals', () => {
  const line = (unitPrice: bigint, taxRateBps = 0, quantity = '1', discount?: bigint): LineInput => ({
    quantity: q(quantity),
    unitPrice,
    taxRateBps,
    discount,
  });

  it('splits a discount of 100 over three equal lines as 34/33/33 (tie to the first line)', () => {
    const result = documentTotals([line(1000n), line(1000n), line(1000n)], { discount: 100n });
    expect(result.lines.map((l) => l.documentDiscount)).toEqual([34n, 33n, 33n]);
    expect(result.lines.map((l) => l.total)).toEqual([966n, 967n, 967n]);
    expect(result).toMatchObject({ subtotal: 3000n, discount: 100n, tax: 0n, total: 2900n });
  });

  it('breaks equal remainders by line order, not by size', () => {
    // 1 unit over 1000/2000/2000: exact shares 0.2/0.4/0.4 → the second line, first of the tie
    const result = documentTotals([line(1000n), line(2000n), line(2000n)], { discount: 1n });
    expect(result.lines.map((l) => l.documentDiscount)).toEqual([0n, 1n, 0n]);
  });

  it('allocates after line discounts and before tax, then taxes each line (hand-computed)', () => {
    const result = documentTotals(
      [
        line(10_000n, 2000), // taxable 10000
        line(2_500n, 0, '2'), // taxable 5000
        line(5_000n, 1000, '1', 1_000n), // taxable 4000
      ],
      { discount: 1_000n },
    );
    // exact shares of 1000 over 19000: 526.32 / 263.16 / 210.53 → floors 526/263/210, the
    // leftover unit to the largest remainder (the third line)
    expect(result.lines).toEqual([
      { subtotal: 10_000n, discount: 526n, documentDiscount: 526n, taxable: 9_474n, tax: 1_895n, total: 11_369n },
      { subtotal: 5_000n, discount: 263n, documentDiscount: 263n, taxable: 4_737n, tax: 0n, total: 4_737n },
      { subtotal: 5_000n, discount: 1_211n, documentDiscount: 211n, taxable: 3_789n, tax: 379n, total: 4_168n },
    ]);
    expect(result).toMatchObject({ subtotal: 20_000n, discount: 2_000n, tax: 2_274n, total: 20_274n });
  });

  it('without a document discount equals the lines on their own', () => {
    const inputs = [line(1999n, 2000, '2.5'), line(1000n, 825, '3', 500n)];
    const result = documentTotals(inputs);
    expect(result.lines.map(({ documentDiscount: _d, ...rest }) => rest)).toEqual(inputs.map(lineAmounts));
    expect(result).toMatchObject({ subtotal: 7998n, discount: 500n, tax: 1206n, total: 8704n });
  });

  it('gives nothing to a line with nothing left to discount', () => {
    const result = documentTotals([line(500n, 0, '1', 500n), line(1000n), line(0n)], { discount: 1000n });
    expect(result.lines.map((l) => l.documentDiscount)).toEqual([0n, 1000n, 0n]);
    expect(result.total).toBe(0n);
  });

  it('returns zeros for an empty document', () => {
    expect(documentTotals([])).toEqual({ subtotal: 0n, discount: 0n, tax: 0n, total: 0n, lines: [] });
  });

  it.each<[string, LineInput[], bigint, MoneyErrorCode]>([
    ['a discount above the taxable total', [line(1000n, 0, '1', 100n)], 901n, 'discount_exceeds_subtotal'],
    ['a discount on an empty document', [], 1n, 'discount_exceeds_subtotal'],
    ['a negative discount', [line(1000n)], -1n, 'negative'],
    ['a document total at MAX_AMOUNT', [line(MAX_AMOUNT / 2n), line(MAX_AMOUNT / 2n)], 0n, 'too_large'],
  ])('refuses %s', (_name, lines, discount, code) => {
    expect(codeOf(() => documentTotals(lines, { discount }))).toBe(code);
  });

  it('holds its invariants on 500 random documents (seeded)', () => {
    // mulberry32: small, deterministic, good enough to spread test cases.
    let seed = 0x5eed1e55;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const int = (max: number): number => Math.floor(random() * (max + 1));
    const big = (max: bigint): bigint => (max <= 0n ? 0n : (BigInt(int(2 ** 30)) * BigInt(int(2 ** 30)) + BigInt(int(2 ** 30))) % (max + 1n));
    const RATES = [0, 500, 700, 825, 1000, 1900, 2000, 2100, 2500, 10_000];

    for (let n = 0; n < 500; n++) {
      const inputs: LineInput[] = Array.from({ length: 1 + int(7) }, () => {
        const quantity = { units: 1n + big(10n ** 7n), scale: 4 as const };
        const unitPrice = big(10n ** 7n);
        const taxRateBps = random() < 0.8 ? RATES[int(RATES.length - 1)] : int(10_000);
        const { subtotal } = lineAmounts({ quantity, unitPrice, taxRateBps });
        return { quantity, unitPrice, taxRateBps, discount: random() < 0.5 ? 0n : big(subtotal) };
      });
      const before = inputs.map(lineAmounts);
      const taxableBefore = before.reduce((sum, l) => sum + l.taxable, 0n);
      const discount = random() < 0.2 ? 0n : random() < 0.1 ? taxableBefore : big(taxableBefore);

      const doc = documentTotals(inputs, { discount });
      const sum = (pick: (l: (typeof doc.lines)[number]) => bigint) => doc.lines.reduce((acc, l) => acc + pick(l), 0n);

      expect(doc.subtotal).toBe(sum((l) => l.subtotal));
      expect(doc.discount).toBe(sum((l) => l.discount));
      expect(doc.tax).toBe(sum((l) => l.tax));
      expect(doc.total).toBe(sum((l) => l.total));
      expect(doc.total).toBe(doc.subtotal - doc.discount + doc.tax);
      expect(sum((l) => l.documentDiscount)).toBe(discount);

      doc.lines.forEach((l, i) => {
        expect(l.subtotal).toBe(before[i].subtotal);
        expect(l.discount).toBe(before[i].discount + l.documentDiscount);
        expect(l.taxable).toBe(l.subtotal - l.discount);
        expect(l.taxable >= 0n && l.documentDiscount >= 0n).toBe(true);
        expect(l.total).toBe(l.taxable + l.tax);
        expect(l.tax).toBe(roundHalfEven(l.taxable * BigInt(inputs[i].taxRateBps), 10_000n));
        // Each part is within one minor unit of its exact proportional share.
        const exact = discount * before[i].taxable; // share × taxableBefore
        const scaled = l.documentDiscount * taxableBefore;
        expect(scaled > exact - taxableBefore && scaled < exact + taxableBefore).toBe(true);
      });
    }
  });
});

describe('formatMoney', () => {
  it.each<[bigint, string, string]>([
    [123450n, 'USD', '1234.50'],
    [5n, 'USD', '0.05'],
    [0n, 'EUR', '0.00'],
    [-1999n, 'GBP', '-19.99'],
    [-5n, 'USD', '-0.05'],
    [1234n, 'JPY', '1234'],
    [0n, 'KRW', '0'],
    [1234n, 'BHD', '1.234'],
    [5n, 'KWD', '0.005'],
    [999_999_999_999n, 'USD', '9999999999.99'],
  ])('%p %s → %s', (amount, currency, expected) => {
    expect(formatMoney(amount, currency)).toBe(expected);
  });

  it('refuses an unknown currency', () => {
    expect(codeOf(() => formatMoney(100n, 'usd'))).toBe('unknown_currency');
  });
});
