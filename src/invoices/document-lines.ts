/**
 * The line model shared by invoices, estimates, credit notes and recurring templates: request
 * input in, validated amounts out. Pure functions; every problem is reported as a field error
 * with its JSON path (`lines[2].quantity`), all at once, so a client can fix a form in one go.
 */
import { AppError, type FieldError } from '../common/errors/app-error.js';
import { cardNumberErrors, throwIfErrors } from '../common/free-text.js';
import { isCurrency } from '../common/money/currencies.js';
import { documentTotals, MAX_AMOUNT, MoneyError, parseMinorUnits, parseQuantity, roundHalfEven, type DocumentTotals, type LineInput, type Quantity } from '../common/money/money.js';

export const MAX_LINES = 500;
export const MAX_DESCRIPTION = 1000;
export const MAX_FREE_TEXT = 5000;

export { cardNumberErrors, throwIfErrors };

/** A line as clients send it. Amounts are integer minor units (number or digit string). */
export interface LineBody {
  description: string;
  quantity: string | number;
  unitPrice: string | number;
  taxRateBps?: number;
  discount?: string | number;
}

export interface ParsedLine extends LineInput {
  description: string;
  /** The quantity as a canonical decimal string with 4 places ("2.5000"). */
  quantityText: string;
  discount: bigint;
}

export interface ComputedDocument {
  currency: string;
  lines: Array<ParsedLine & DocumentTotals['lines'][number]>;
  /** The document discount as entered (before allocation to lines). */
  documentDiscount: bigint;
  subtotal: bigint;
  /** Line discounts plus the document discount. */
  discountTotal: bigint;
  taxTotal: bigint;
  total: bigint;
}

/** "25000" units of 10^-4 → "2.5000". */
export function quantityText(quantity: Quantity): string {
  const digits = quantity.units.toString().padStart(5, '0');
  return `${digits.slice(0, -4)}.${digits.slice(-4)}`;
}

/** The quantity as the client is shown it: "2.5" rather than "2.5000". */
export function displayQuantity(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

function moneyField(errors: FieldError[], field: string, run: () => bigint): bigint {
  try {
    return run();
  } catch (error) {
    if (!(error instanceof MoneyError)) throw error;
    errors.push({ field, code: error.code, message: `${field}: ${error.message}` });
    return 0n;
  }
}

/**
 * Parses and computes a document. `lines` has already passed the DTO's shape checks (array,
 * 1–500 entries, strings where strings belong); this checks the values: currency, amounts,
 * quantities, tax rates, discounts, card numbers, and the computed totals' limits.
 */
export function computeDocument(input: { currency: string; lines: LineBody[]; discount?: string | number }): ComputedDocument {
  const errors: FieldError[] = [];
  const currency = input.currency;
  if (!isCurrency(currency)) {
    errors.push({ field: 'currency', code: 'unknown_currency', message: 'currency must be an ISO 4217 code such as "EUR"' });
    throwIfErrors(errors);
  }
  if (!Array.isArray(input.lines) || input.lines.length === 0) errors.push({ field: 'lines', code: 'arrayMinSize', message: 'lines must have at least one line' });
  else if (input.lines.length > MAX_LINES) errors.push({ field: 'lines', code: 'arrayMaxSize', message: `lines may have at most ${MAX_LINES} lines` });
  throwIfErrors(errors);

  const parsed: ParsedLine[] = input.lines.map((line, index) => {
    const path = `lines[${index}]`;
    const unitPrice = moneyField(errors, `${path}.unitPrice`, () => parseMinorUnits(line.unitPrice, currency));
    const discount = line.discount === undefined ? 0n : moneyField(errors, `${path}.discount`, () => parseMinorUnits(line.discount, currency));
    let quantity: Quantity = { units: 10_000n, scale: 4 };
    try {
      quantity = parseQuantity(line.quantity);
    } catch (error) {
      if (!(error instanceof MoneyError)) throw error;
      errors.push({ field: `${path}.quantity`, code: error.code, message: `${path}.quantity: ${error.message}` });
    }
    const taxRateBps = line.taxRateBps ?? 0;
    if (!Number.isInteger(taxRateBps) || taxRateBps < 0 || taxRateBps > 10_000) {
      errors.push({ field: `${path}.taxRateBps`, code: 'invalid_tax_rate', message: `${path}.taxRateBps must be an integer number of basis points from 0 to 10000` });
    }
    errors.push(...cardNumberErrors({ [`${path}.description`]: line.description }));
    return { description: line.description, quantity, quantityText: quantityText(quantity), unitPrice, taxRateBps, discount };
  });
  const documentDiscount = input.discount === undefined ? 0n : moneyField(errors, 'discount', () => parseMinorUnits(input.discount, currency));
  throwIfErrors(errors);

  // Line by line first, so an error names the line it belongs to.
  parsed.forEach((line, index) => {
    const path = `lines[${index}]`;
    const subtotal = roundHalfEven(line.quantity.units * line.unitPrice, 10_000n);
    if (subtotal >= MAX_AMOUNT) errors.push({ field: `${path}.unitPrice`, code: 'too_large', message: `${path}: quantity × unitPrice is too large` });
    else if (line.discount > subtotal) errors.push({ field: `${path}.discount`, code: 'discount_exceeds_subtotal', message: `${path}.discount exceeds the line subtotal` });
  });
  throwIfErrors(errors);

  let totals: DocumentTotals;
  try {
    totals = documentTotals(parsed, { discount: documentDiscount });
  } catch (error) {
    if (!(error instanceof MoneyError)) throw error;
    const field = error.code === 'discount_exceeds_subtotal' ? 'discount' : 'lines';
    throw AppError.validation([{ field, code: error.code, message: `${field}: ${error.message}` }]);
  }
  return {
    currency,
    lines: parsed.map((line, index) => ({ ...line, ...totals.lines[index] })),
    documentDiscount,
    subtotal: totals.subtotal,
    discountTotal: totals.discount,
    taxTotal: totals.tax,
    total: totals.total,
  };
}

/** A stored line as the API shows it. Amounts are JSON numbers: every amount is below 2^53. */
export interface LineView {
  description: string;
  quantity: string;
  unitPrice: number;
  taxRateBps: number;
  discount: number;
  subtotal: number;
  discountTotal: number;
  tax: number;
  total: number;
}

export interface StoredLine {
  description: string;
  quantity: string;
  unit_price: string | number;
  tax_rate_bps: number;
  discount: string | number;
  subtotal: string | number;
  discount_total: string | number;
  tax: string | number;
  total: string | number;
}

export function lineView(line: StoredLine): LineView {
  return {
    description: line.description,
    quantity: displayQuantity(String(line.quantity)),
    unitPrice: Number(line.unit_price),
    taxRateBps: line.tax_rate_bps,
    discount: Number(line.discount),
    subtotal: Number(line.subtotal),
    discountTotal: Number(line.discount_total),
    tax: Number(line.tax),
    total: Number(line.total),
  };
}
