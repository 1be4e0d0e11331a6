/**
 * CSV for exports (RFC 4180) with a defence against formula injection ("CSV injection", OWASP):
 * a spreadsheet evaluates a cell whose text starts with `=`, `+`, `-` or `@` (and, in some, TAB
 * or CR followed by one of those) as a formula, so a customer named `=HYPERLINK(...)` could run
 * in the accountant's spreadsheet. Pure functions.
 *
 * Cells:
 * - text: a leading `=`, `+`, `-`, `@`, TAB or CR gets a `'` in front, so a spreadsheet takes the
 *   cell as text (other tools show the apostrophe: the price of the defence). Then RFC 4180
 *   quoting.
 * - `number` (a JS number): written as is, negative ones included. A finite number's string form
 *   (`-12.5`, `1e+21`) is a numeric literal, never a formula, and the caller chose a number type
 *   on purpose. A non-finite number (`NaN`, `-Infinity`) is not a numeric literal to a
 *   spreadsheet (`-Infinity` would be read as a formula), so it is treated as text.
 * - `NumericCell` (`{ number: '-12.50' }`, see `moneyCell`): a decimal number as text, written
 *   without the prefix, but only when it is exactly `-?digits(.digits)?`; anything else in it is
 *   treated as text, escaped like any other.
 * - `null` / `undefined`: an empty field.
 *
 * Records end with CRLF (the last one too, so exports can be streamed in chunks); a field is
 * quoted when it contains `"`, `,`, CR or LF, with `"` doubled. No byte-order mark: that is the
 * HTTP layer's choice.
 */
import { formatMoney } from '../common/money/money.js';
import type { InvoiceView } from './invoice-view.js';

/** A decimal number held as text ("-12.50"), written without the formula-injection prefix. */
export interface NumericCell {
  readonly number: string;
}

export type CsvCell = string | number | null | undefined | NumericCell;

const PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/;
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** An amount in minor units as a CSV cell: "1234.50", "-12.50" (a credit is a number, not a formula). */
export function moneyCell(amount: number, currency: string): NumericCell {
  return { number: formatMoney(BigInt(amount), currency) };
}

export function isNumericCell(cell: CsvCell): cell is NumericCell {
  return typeof cell === 'object' && cell !== null && typeof (cell as { number?: unknown }).number === 'string';
}

/** Text with a `'` in front when a spreadsheet would take it for a formula. */
export function neutralizeFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

function quote(field: string): string {
  return NEEDS_QUOTES.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

function field(cell: CsvCell): string {
  if (cell === null || cell === undefined) return '';
  if (typeof cell === 'number') return Number.isFinite(cell) ? String(cell) : quote(neutralizeFormula(String(cell)));
  if (isNumericCell(cell)) return PLAIN_DECIMAL.test(cell.number) ? cell.number : quote(neutralizeFormula(cell.number));
  return quote(neutralizeFormula(String(cell)));
}

/** RFC 4180 CSV, every record ending with CRLF; `[]` is the empty string. */
export function toCsv(rows: ReadonlyArray<ReadonlyArray<CsvCell>>): string {
  return rows.map((row) => `${row.map(field).join(',')}\r\n`).join('');
}

export const INVOICE_CSV_HEADER = ['Number', 'Status', 'Customer', 'Issue date', 'Due date', 'Currency', 'Subtotal', 'Discount', 'Tax', 'Total', 'Credited', 'Paid', 'Balance due'] as const;

/**
 * One invoice as a row under INVOICE_CSV_HEADER. The status is the display status as the API
 * spells it (`overdue`, `partially_paid`); a draft has an empty number; amounts are decimals in
 * the invoice's currency (the Currency column), the discount being the line and document
 * discounts together.
 */
export function invoiceCsvRow(invoice: InvoiceView, customerName: string): CsvCell[] {
  const money = (amount: number) => moneyCell(amount, invoice.currency);
  return [
    invoice.number,
    invoice.displayStatus,
    customerName,
    invoice.issueDate,
    invoice.dueDate,
    invoice.currency,
    money(invoice.subtotal),
    money(invoice.discountTotal),
    money(invoice.taxTotal),
    money(invoice.total),
    money(invoice.creditedTotal),
    money(invoice.amountPaid),
    money(invoice.balanceDue),
  ];
}
