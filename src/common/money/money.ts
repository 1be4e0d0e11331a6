/**
 * Money rules for invoices. Pure functions, no I/O.
 *
 * Money is an integer number of minor units (`bigint`) of an ISO 4217 currency; floats never
 * hold an amount. Quantities are decimals with at most 4 places, held as integers scaled by
 * 10^4.
 *
 * ONE rounding rule: round half to even (banker's rounding), applied per line, at exactly two
 * points: the line subtotal (quantity × unit price, back from 10^-4 units to minor units) and the
 * line tax (taxable × rate in basis points). Document figures are sums of line figures and are
 * never rounded again, so an invoice always adds up line by line. A document discount is
 * allocated to lines (largest remainder) before tax, so each line's tax stays exact for its line.
 *
 * Every amount this module accepts or returns is below MAX_AMOUNT: it fits in a PostgreSQL
 * bigint and is exactly representable as a JavaScript number.
 */
import { minorUnits } from './currencies.js';
import { MoneyError } from './money-error.js';

export { MoneyError, type MoneyErrorCode } from './money-error.js';

/** Exclusive upper bound, in minor units, for every amount (unit prices, line and document totals). */
export const MAX_AMOUNT = 10n ** 12n;

export const QUANTITY_SCALE = 4;
const QUANTITY_FACTOR = 10n ** BigInt(QUANTITY_SCALE);
/** Inclusive upper bound of a quantity, in whole units. */
export const MAX_QUANTITY = 10n ** 9n;

const BPS = 10_000n;

export interface Quantity {
  /** The quantity × 10^4: "2.5" is 25000n. */
  units: bigint;
  scale: 4;
}

export interface LineInput {
  quantity: Quantity;
  /** Minor units per whole unit of quantity. */
  unitPrice: bigint;
  /** Tax rate in basis points: 2000 is 20%. Integer 0..10000. */
  taxRateBps: number;
  /** Line discount in minor units, at most the line subtotal. */
  discount?: bigint;
}

export interface LineAmounts {
  subtotal: bigint;
  discount: bigint;
  taxable: bigint;
  tax: bigint;
  total: bigint;
}

export interface DocumentLineAmounts extends LineAmounts {
  /** The part of the document discount allocated to this line (already included in `discount`). */
  documentDiscount: bigint;
}

export interface DocumentTotals {
  subtotal: bigint;
  /** Line discounts plus the document discount. */
  discount: bigint;
  tax: bigint;
  total: bigint;
  lines: DocumentLineAmounts[];
}

// Canonical non-negative integer: no sign, no leading zeros (JSON's own integer grammar, minus '-').
const INTEGER = /^(?:0|[1-9]\d*)$/;
const NEGATIVE_INTEGER = /^-(?:0|[1-9]\d*)$/;
const DECIMAL = /^(0|[1-9]\d*)(?:\.(\d+))?$/;
const NEGATIVE_DECIMAL = /^-(?:0|[1-9]\d*)(?:\.\d+)?$/;
// 10^12 has 13 digits; anything longer is too large without building a huge BigInt from it.
const MAX_AMOUNT_DIGITS = MAX_AMOUNT.toString().length;

/**
 * Parses an amount in minor units from request input: a JSON number that is a safe integer, or
 * a string of digits. Refuses floats, NaN, Infinity, exponent notation, signs, whitespace,
 * leading zeros, and anything at or above MAX_AMOUNT. The currency is checked first so a bad
 * currency is reported as such whatever the amount.
 */
export function parseMinorUnits(value: unknown, currency: string): bigint {
  minorUnits(currency); // throws unknown_currency
  let amount: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new MoneyError('not_an_integer', 'Amount must be an integer number of minor units.');
    if (value < 0) throw new MoneyError('negative', 'Amount must not be negative.');
    // An integer beyond 2^53 was already rounded by the JSON parser: its digits cannot be trusted.
    if (!Number.isSafeInteger(value)) throw new MoneyError('too_large', 'Amount is too large.');
    amount = BigInt(value);
  } else if (typeof value === 'string') {
    if (NEGATIVE_INTEGER.test(value)) throw new MoneyError('negative', 'Amount must not be negative.');
    if (!INTEGER.test(value)) throw new MoneyError('not_an_integer', 'Amount must be an integer number of minor units, written as plain digits.');
    if (value.length > MAX_AMOUNT_DIGITS) throw new MoneyError('too_large', 'Amount is too large.');
    amount = BigInt(value);
  } else {
    throw new MoneyError('not_an_integer', 'Amount must be an integer number of minor units.');
  }
  assertBelowMax(amount, 'Amount');
  return amount;
}

/**
 * Parses a quantity: a decimal string or JSON number with at most 4 decimal places, greater than
 * zero and at most 10^9. Zero is refused: a line with zero quantity has nothing to bill and is
 * more likely a client bug than an intent. Numbers go through their shortest round-trip string,
 * so 2.5 is "2.5" and 0.1 is "0.1", never 0.1000000000000000055….
 */
export function parseQuantity(value: unknown): Quantity {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new MoneyError('not_a_decimal', 'Quantity must be a finite decimal.');
    if (value < 0) throw new MoneyError('negative', 'Quantity must not be negative.');
    text = String(value);
    // Below 1e21, String() only uses an exponent for magnitudes under 1e-6: more than 4 places.
    if (/e/i.test(text)) {
      if (value >= 1) throw new MoneyError('too_large', 'Quantity is too large.');
      throw new MoneyError('too_many_decimals', `Quantity must have at most ${QUANTITY_SCALE} decimal places.`);
    }
  } else if (typeof value === 'string') {
    text = value;
  } else {
    throw new MoneyError('not_a_decimal', 'Quantity must be a decimal number or string.');
  }
  if (NEGATIVE_DECIMAL.test(text)) throw new MoneyError('negative', 'Quantity must not be negative.');
  const match = DECIMAL.exec(text);
  if (!match) throw new MoneyError('not_a_decimal', 'Quantity must be a plain decimal such as "2" or "2.5".');
  const [, whole, fraction = ''] = match;
  if (fraction.length > QUANTITY_SCALE) throw new MoneyError('too_many_decimals', `Quantity must have at most ${QUANTITY_SCALE} decimal places.`);
  if (whole.length > MAX_QUANTITY.toString().length) throw new MoneyError('too_large', 'Quantity is too large.');
  const units = BigInt(whole) * QUANTITY_FACTOR + BigInt(fraction.padEnd(QUANTITY_SCALE, '0'));
  if (units === 0n) throw new MoneyError('zero', 'Quantity must be greater than zero.');
  if (units > MAX_QUANTITY * QUANTITY_FACTOR) throw new MoneyError('too_large', 'Quantity is too large.');
  return { units, scale: 4 };
}

/**
 * numerator / denominator rounded half to even. Symmetric around zero (-2.5 → -2, -3.5 → -4), so
 * negating the input negates the result. The denominator must be positive.
 */
export function roundHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError('roundHalfEven: denominator must be positive.');
  const negative = numerator < 0n;
  const magnitude = negative ? -numerator : numerator;
  let quotient = magnitude / denominator;
  const twiceRemainder = (magnitude % denominator) * 2n;
  if (twiceRemainder > denominator || (twiceRemainder === denominator && quotient % 2n === 1n)) quotient += 1n;
  return negative ? -quotient : quotient;
}

/** The amounts of one invoice line. Throws MoneyError for out-of-range inputs or results. */
export function lineAmounts({ quantity, unitPrice, taxRateBps, discount = 0n }: LineInput): LineAmounts {
  assertQuantity(quantity);
  assertAmount(unitPrice, 'Unit price');
  assertTaxRate(taxRateBps);
  assertAmount(discount, 'Discount');
  const subtotal = roundHalfEven(quantity.units * unitPrice, QUANTITY_FACTOR);
  assertBelowMax(subtotal, 'Line subtotal');
  if (discount > subtotal) throw new MoneyError('discount_exceeds_subtotal', 'Line discount exceeds the line subtotal.');
  return withTax(subtotal, discount, taxRateBps, 'Line total');
}

/**
 * Totals of a document. The document discount is spread over lines in proportion to their
 * taxable amounts (after line discounts), before tax: each line gets the floor of its exact
 * share, and the units left over go one each to the lines with the largest remainders, ties to
 * the earlier line. The parts therefore sum exactly to the discount and no line's part exceeds
 * its taxable amount. Tax is then computed per line on what remains.
 */
export function documentTotals(lines: readonly LineInput[], options: { discount?: bigint } = {}): DocumentTotals {
  const documentDiscount = options.discount ?? 0n;
  assertAmount(documentDiscount, 'Document discount');
  const before = lines.map(lineAmounts);
  const taxableTotal = before.reduce((sum, line) => sum + line.taxable, 0n);
  if (documentDiscount > taxableTotal) throw new MoneyError('discount_exceeds_subtotal', 'Document discount exceeds the discounted subtotal.');

  const parts = allocate(
    documentDiscount,
    before.map((line) => line.taxable),
  );
  const out = before.map((line, index): DocumentLineAmounts => {
    const part = parts[index];
    return { ...withTax(line.subtotal, line.discount + part, lines[index].taxRateBps, 'Line total'), documentDiscount: part };
  });
  const totals = {
    subtotal: out.reduce((sum, line) => sum + line.subtotal, 0n),
    discount: out.reduce((sum, line) => sum + line.discount, 0n),
    tax: out.reduce((sum, line) => sum + line.tax, 0n),
    total: out.reduce((sum, line) => sum + line.total, 0n),
  };
  assertBelowMax(totals.subtotal, 'Document subtotal');
  assertBelowMax(totals.total, 'Document total');
  return { ...totals, lines: out };
}

/**
 * "1234.50" for 123450n USD, "1234" for 1234n JPY, "1.234" for 1234n BHD. No symbol, no grouping,
 * always a '.' and exactly the currency's decimal places; a negative amount (credit) gets '-'.
 */
export function formatMoney(amount: bigint, currency: string): string {
  const exponent = minorUnits(currency);
  const digits = (amount < 0n ? -amount : amount).toString().padStart(exponent + 1, '0');
  const sign = amount < 0n ? '-' : '';
  if (exponent === 0) return `${sign}${digits}`;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

function withTax(subtotal: bigint, discount: bigint, taxRateBps: number, label: string): LineAmounts {
  const taxable = subtotal - discount;
  const tax = roundHalfEven(taxable * BigInt(taxRateBps), BPS);
  const total = taxable + tax;
  assertBelowMax(total, label);
  return { subtotal, discount, taxable, tax, total };
}

// Largest-remainder (Hamilton) allocation of `amount` over `weights`; exact sum, ties by index.
function allocate(amount: bigint, weights: readonly bigint[]): bigint[] {
  const totalWeight = weights.reduce((sum, weight) => sum + weight, 0n);
  if (amount === 0n || totalWeight === 0n) return weights.map(() => 0n);
  const parts = weights.map((weight) => (amount * weight) / totalWeight);
  let left = amount - parts.reduce((sum, part) => sum + part, 0n);
  const order = weights
    .map((weight, index) => ({ index, remainder: (amount * weight) % totalWeight }))
    .sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  // The remainders sum to `left` × totalWeight and each is below totalWeight, so at least `left`
  // of them are non-zero: a line only ever receives a unit it has room for.
  for (const { index } of order) {
    if (left === 0n) break;
    parts[index] += 1n;
    left -= 1n;
  }
  return parts;
}

function assertAmount(value: bigint, label: string): void {
  if (typeof value !== 'bigint') throw new MoneyError('not_an_integer', `${label} must be a bigint number of minor units.`);
  if (value < 0n) throw new MoneyError('negative', `${label} must not be negative.`);
  assertBelowMax(value, label);
}

function assertBelowMax(value: bigint, label: string): void {
  if (value >= MAX_AMOUNT) throw new MoneyError('too_large', `${label} is too large.`);
}

function assertQuantity(quantity: Quantity): void {
  if (typeof quantity?.units !== 'bigint' || quantity.scale !== QUANTITY_SCALE) throw new MoneyError('not_a_decimal', 'Quantity must come from parseQuantity.');
  if (quantity.units <= 0n) throw new MoneyError(quantity.units === 0n ? 'zero' : 'negative', 'Quantity must be greater than zero.');
  if (quantity.units > MAX_QUANTITY * QUANTITY_FACTOR) throw new MoneyError('too_large', 'Quantity is too large.');
}

function assertTaxRate(taxRateBps: number): void {
  if (!Number.isInteger(taxRateBps) || taxRateBps < 0 || taxRateBps > 10_000) {
    throw new MoneyError('invalid_tax_rate', 'Tax rate must be an integer number of basis points from 0 to 10000.');
  }
}
