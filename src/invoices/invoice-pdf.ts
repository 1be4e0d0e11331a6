/**
 * Renders an invoice as an A4 PDF with pdf-lib and its standard fonts (Helvetica, Helvetica-Bold).
 * Pure: everything printed comes from the arguments, nothing is read from the environment but
 * the clock (and only when `generatedAt` is not given).
 *
 * Layout: page 1 has the business, the invoice's key facts, the customer and a balance-due box;
 * then the lines table, whose header repeats on every continuation page; then the totals (kept
 * together on one page when they fit) and the notes, terms and payment instructions. Every page
 * ends with "Page N of M", drawn once all pages exist.
 *
 * Text: the standard fonts only encode WinAnsi (Windows-1252). All text goes through
 * `printable()`, which never throws: unencodable characters become "?" (after trying a
 * compatibility fallback such as "ﬁ" → "fi" or "ő" → "o"), newlines become line breaks and other
 * control and format characters are dropped.
 *
 * Determinism: the same input and `generatedAt` give the same bytes. pdf-lib writes no random
 * document /ID, and the resource names it "randomises" (fonts, graphics states) come from an RNG
 * seeded with a constant per document.
 */
import { degrees, PDFDocument, rgb, StandardFonts, type Color, type PDFFont, type PDFPage } from 'pdf-lib';
import { formatMoney } from '../common/money/money.js';
import type { BillingAddress, DisplayStatus, InvoiceParties, InvoiceView } from './invoice-view.js';

export interface CreditNoteSummary {
  number: string;
  issueDate: string;
  /** Minor units of the invoice's currency. */
  total: number;
  reason: string;
}

export interface RenderInvoicePdfOptions {
  /** Credit notes issued against the invoice, listed under "Credited". */
  creditNotes?: CreditNoteSummary[];
  /** The PDF's creation and modification dates (default: now). */
  generatedAt?: Date;
}

// ---------------------------------------------------------------------------------------------
// Text safety

/** The WinAnsi code points above Latin-1's printable ASCII and 0xA0–0xFF ranges (0x80–0x9F slots). */
const WIN_ANSI_EXTRA = new Set(Array.from('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ', (char) => char.codePointAt(0) as number));

/** True when Helvetica (WinAnsi) can draw the code point. */
export function isWinAnsi(codePoint: number): boolean {
  return (codePoint >= 0x20 && codePoint <= 0x7e) || (codePoint >= 0xa0 && codePoint <= 0xff) || WIN_ANSI_EXTRA.has(codePoint);
}

// Characters with no compatibility decomposition that still have an obvious WinAnsi stand-in.
const STAND_INS: ReadonlyMap<string, string> = new Map([
  ['\u2010', '-'], // hyphen
  ['\u2011', '-'], // non-breaking hyphen
  ['\u2012', '–'], // figure dash
  ['\u2015', '—'], // horizontal bar
  ['\u2212', '-'], // minus sign
  ['\u2032', "'"], // prime
  ['\u2033', '"'], // double prime
  ['\u2043', '-'], // hyphen bullet
  ['\u2219', '•'], // bullet operator
]);

const LINE_BREAK = /\r\n?|[\u2028\u2029]/g;
// Control (Cc) and format (Cf: zero-width joiners, bidi overrides, BOM, soft hyphen...) characters.
const INVISIBLE = /^[\p{Cc}\p{Cf}]$/u;
const MARK = /^\p{M}$/u;
const MARKS = /\p{M}/gu;

function allWinAnsi(text: string): boolean {
  for (const char of text) if (!isWinAnsi(char.codePointAt(0) as number)) return false;
  return true;
}

/**
 * Text that Helvetica can draw. Never throws. CRLF, CR, U+2028 and U+2029 become "\n" (a line
 * break, kept), a tab becomes a space, other control and format characters are dropped. Any
 * other character WinAnsi cannot encode is replaced: by its compatibility form when that is
 * encodable ("ﬁ" → "fi", "Ａ" → "A"), by its base letter when only an accent is missing
 * ("ő" → "o"), else by "?" (one per code point: "🔧" is one "?", not two).
 */
export function printable(text: string): string {
  let out = '';
  for (const char of String(text).normalize('NFC').replace(LINE_BREAK, '\n')) {
    const codePoint = char.codePointAt(0) as number;
    if (char === '\n') out += '\n';
    else if (char === '\t') out += ' ';
    else if (isWinAnsi(codePoint)) out += char;
    else if (INVISIBLE.test(char)) continue;
    else if (STAND_INS.has(char)) out += STAND_INS.get(char);
    else out += fallback(char);
  }
  return out;
}

function fallback(char: string): string {
  const compatible = char.normalize('NFKC');
  if (compatible !== char && allWinAnsi(compatible)) return compatible;
  // A combining mark that did not compose with its base (which was handled on its own).
  if (MARK.test(char)) return '';
  const base = char.normalize('NFKD').replace(MARKS, '');
  if (base !== '' && base !== char && allWinAnsi(base)) return base;
  return '?';
}

/** printable(), on one line: line breaks become spaces and runs of spaces collapse. */
function oneLine(text: string | null | undefined): string {
  return printable(text ?? '')
    .replace(/\s+/g, ' ')
    .trim();
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** "1234.50 EUR": formatMoney() and the ISO code. */
export function moneyText(amount: number, currency: string): string {
  return `${formatMoney(BigInt(amount), currency)} ${currency}`;
}

/** A deduction: "-12.50 EUR" (and "0.00 EUR", never "-0.00 EUR"). */
function minusMoney(amount: number, currency: string): string {
  return moneyText(-amount, currency);
}

/** Basis points as a percentage: 2000 → "20%", 825 → "8.25%", 50 → "0.5%". */
export function taxRateText(bps: number): string {
  const whole = Math.trunc(bps / 100);
  const fraction = String(Math.abs(bps % 100))
    .padStart(2, '0')
    .replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}%` : `${whole}%`;
}

const STATUS_LABELS: Record<DisplayStatus, string> = {
  draft: 'Draft',
  open: 'Open',
  partially_paid: 'Partially paid',
  paid: 'Paid',
  void: 'Void',
  overdue: 'Overdue',
};

export function statusLabel(status: DisplayStatus): string {
  return STATUS_LABELS[status] ?? oneLine(status);
}

function addressLines(address: BillingAddress | null): string[] {
  if (!address) return [];
  const locality = [address.city, address.region].map(oneLine).filter(Boolean).join(', ');
  const cityLine = [locality, oneLine(address.postalCode)].filter(Boolean).join(' ');
  return [oneLine(address.line1), oneLine(address.line2), cityLine, oneLine(address.country)].filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// Geometry (points; A4 is 595.28 × 841.89)

const PAGE_WIDTH = 595.28;
const PAGE_HEIGHT = 841.89;
const MARGIN = 50;
const LEFT = MARGIN;
const RIGHT = PAGE_WIDTH - MARGIN;
const TOP = PAGE_HEIGHT - MARGIN;
const CONTENT_WIDTH = RIGHT - LEFT;
/** Content never goes below this; the footer sits under it. */
const BOTTOM = 62;
const FOOTER_BASELINE = 34;
/** Where content starts on a continuation page, under its running header. */
const CONTINUATION_TOP = TOP - 30;

const INK = rgb(0.11, 0.12, 0.14);
const MUTED = rgb(0.42, 0.45, 0.5);
const RULE = rgb(0.84, 0.85, 0.87);
const FILL = rgb(0.95, 0.96, 0.97);
const RED = rgb(0.78, 0.11, 0.11);
const GREEN = rgb(0.09, 0.5, 0.26);

// The lines table: a description column and four right-aligned numeric columns.
const TABLE = {
  description: { x: LEFT + 6, width: 204 },
  quantity: { right: 328, width: 60 },
  unitPrice: { right: 418, width: 80 },
  tax: { right: 460, width: 34 },
  total: { right: RIGHT - 6, width: 74 },
};
const TABLE_HEADER_HEIGHT = 22;
const ROW_PAD = 5;
const ROW_LINE = 11.5;
const ROW_SIZE = 9;

// The totals block: labels from TOTALS_LEFT, amounts right-aligned at RIGHT.
const TOTALS_LEFT = 318;
const TOTALS_WIDTH = RIGHT - TOTALS_LEFT;

interface Fonts {
  regular: PDFFont;
  bold: PDFFont;
}

interface TextStyle {
  font?: PDFFont;
  size?: number;
  color?: Color;
  /** How far fit() may shrink the text before cutting it (default 6 pt). */
  minSize?: number;
}

/** A horizontal slice of content: `draw` gets the page and the slice's top edge. */
interface Row {
  height: number;
  draw(page: PDFPage, top: number): void;
}

function gap(height: number): Row {
  return { height, draw: () => undefined };
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers

class Painter {
  constructor(readonly fonts: Fonts) {}

  width(text: string, style: TextStyle = {}): number {
    return (style.font ?? this.fonts.regular).widthOfTextAtSize(text, style.size ?? 9);
  }

  /** Draws already-printable text with its left end at x. */
  text(page: PDFPage, text: string, x: number, baseline: number, style: TextStyle = {}): void {
    if (text === '') return;
    page.drawText(text, { x, y: baseline, font: style.font ?? this.fonts.regular, size: style.size ?? 9, color: style.color ?? INK });
  }

  /** Draws text ending at `right`, shrunk (down to 6 pt) or cut with "…" to fit `maxWidth`. */
  right(page: PDFPage, text: string, right: number, baseline: number, style: TextStyle = {}, maxWidth = CONTENT_WIDTH): void {
    const fitted = this.fit(text, maxWidth, style);
    this.text(page, fitted.text, right - this.width(fitted.text, fitted), baseline, fitted);
  }

  /** Draws text from x, shrunk or cut to fit `maxWidth`. */
  left(page: PDFPage, text: string, x: number, baseline: number, style: TextStyle = {}, maxWidth = CONTENT_WIDTH): void {
    const fitted = this.fit(text, maxWidth, style);
    this.text(page, fitted.text, x, baseline, fitted);
  }

  fit(text: string, maxWidth: number, style: TextStyle): TextStyle & { text: string } {
    const size = style.size ?? 9;
    const width = this.width(text, style);
    if (width <= maxWidth) return { ...style, size, text };
    const shrunk = Math.max(Math.min(style.minSize ?? 6, size), Math.floor(((size * maxWidth) / width) * 10) / 10);
    const fitted = { ...style, size: shrunk };
    if (this.width(text, fitted) <= maxWidth) return { ...fitted, text };
    let cut = text;
    while (cut.length > 0 && this.width(`${cut}…`, fitted) > maxWidth) cut = cut.slice(0, -1);
    return { ...fitted, text: `${cut}…` };
  }

  /**
   * Printable text broken into lines no wider than `width`: at "\n", then between words, and
   * inside a word that is wider than a line on its own.
   */
  wrap(text: string, width: number, style: TextStyle = {}): string[] {
    const lines: string[] = [];
    for (const paragraph of text.split('\n')) {
      let line = '';
      for (const word of paragraph.split(' ').filter(Boolean)) {
        const candidate = line ? `${line} ${word}` : word;
        if (this.width(candidate, style) <= width) {
          line = candidate;
          continue;
        }
        if (line) lines.push(line);
        line = '';
        if (this.width(word, style) <= width) {
          line = word;
          continue;
        }
        for (const char of word) {
          if (line && this.width(line + char, style) > width) {
            lines.push(line);
            line = '';
          }
          line += char;
        }
      }
      lines.push(line);
    }
    // Blank lines at the end of a text print nothing.
    while (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  }

  rule(page: PDFPage, y: number, from = LEFT, to = RIGHT, color: Color = RULE, thickness = 0.6): void {
    page.drawLine({ start: { x: from, y }, end: { x: to, y }, thickness, color });
  }
}

/** Pages and the cursor: rows are placed top-down and new pages are opened as needed. */
class Flow {
  readonly pages: PDFPage[] = [];
  page!: PDFPage;
  y = TOP;
  /** Drawn at the top of every page opened while set (the table header); takes `breakHeight`. */
  private onBreak: { height: number; draw: () => void } | null = null;

  constructor(
    private readonly doc: PDFDocument,
    private readonly decorate: (page: PDFPage, first: boolean) => number,
  ) {}

  addPage(): void {
    this.page = this.doc.addPage([PAGE_WIDTH, PAGE_HEIGHT]);
    this.pages.push(this.page);
    this.y = this.decorate(this.page, this.pages.length === 1);
    this.onBreak?.draw();
  }

  repeatOnBreak(header: { height: number; draw: () => void } | null): void {
    this.onBreak = header;
  }

  /** The height a fresh continuation page offers. */
  get pageCapacity(): number {
    return CONTINUATION_TOP - BOTTOM - (this.onBreak?.height ?? 0);
  }

  ensure(height: number): void {
    if (this.y - height < BOTTOM) this.addPage();
  }

  /** Places rows; a group that fits on one page is not split (it moves to a new page instead). */
  place(rows: Row[], keepTogether = true): void {
    const total = rows.reduce((sum, row) => sum + row.height, 0);
    if (keepTogether && total <= this.pageCapacity) this.ensure(total);
    for (const row of rows) {
      this.ensure(row.height);
      row.draw(this.page, this.y);
      this.y -= row.height;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The document

export async function renderInvoicePdf(invoice: InvoiceView, parties: InvoiceParties, options: RenderInvoicePdfOptions = {}): Promise<Uint8Array> {
  const generatedAt = options.generatedAt ?? new Date();
  const draft = invoice.number === null;
  const voided = invoice.status === 'void';
  const number = oneLine(invoice.number);
  const documentTitle = draft ? 'Draft invoice' : `Invoice ${number}`;
  const businessName = oneLine(parties.business.name);

  const doc = await PDFDocument.create({ updateMetadata: false });
  doc.setTitle(draft ? 'Draft invoice' : `Invoice ${invoice.number}`);
  doc.setProducer('Ledgerline');
  doc.setCreator('Ledgerline');
  doc.setLanguage('en');
  doc.setCreationDate(generatedAt);
  doc.setModificationDate(generatedAt);

  const fonts: Fonts = {
    regular: await doc.embedFont(StandardFonts.Helvetica),
    bold: await doc.embedFont(StandardFonts.HelveticaBold),
  };
  const paint = new Painter(fonts);
  const bold = fonts.bold;

  // Every page: a watermark for void and draft invoices (drawn first, so it sits under the
  // content) and, after page 1, a running header.
  const decorate = (page: PDFPage, first: boolean): number => {
    if (voided) watermark(page, paint, 'VOID', RED, 0.13);
    else if (draft) watermark(page, paint, 'DRAFT', MUTED, 0.1);
    if (first) return TOP;
    paint.left(page, businessName, LEFT, TOP - 9, { font: bold, size: 9, minSize: 9 }, CONTENT_WIDTH / 2 - 10);
    paint.right(page, `${documentTitle} (continued)`, RIGHT, TOP - 9, { size: 9, color: MUTED, minSize: 9 }, CONTENT_WIDTH / 2 - 10);
    paint.rule(page, TOP - 16);
    return CONTINUATION_TOP;
  };
  const flow = new Flow(doc, decorate);
  flow.addPage();

  drawHeader(flow, paint, invoice, parties, { draft, voided, number, businessName });
  drawLines(flow, paint, invoice);
  drawTotals(flow, paint, invoice, options.creditNotes ?? []);

  const sections: Array<[string, string | null]> = [
    ['Notes', invoice.notes],
    ['Terms', invoice.terms],
    ['Payment instructions', parties.business.paymentInstructions],
  ];
  for (const [heading, body] of sections) {
    const text = printable(body ?? '').trim();
    if (text) drawSection(flow, paint, heading, text);
  }

  // Footers, now that the page count is known.
  const count = flow.pages.length;
  flow.pages.forEach((page, index) => {
    paint.rule(page, FOOTER_BASELINE + 12);
    paint.left(page, `${documentTitle} · ${businessName}`, LEFT, FOOTER_BASELINE, { size: 8, color: MUTED, minSize: 8 }, CONTENT_WIDTH - 90);
    paint.right(page, `Page ${index + 1} of ${count}`, RIGHT, FOOTER_BASELINE, { size: 8, color: MUTED });
  });

  return doc.save();
}

function watermark(page: PDFPage, paint: Painter, word: string, color: Color, opacity: number): void {
  const size = word.length > 4 ? 110 : 130;
  const angle = 35;
  const width = paint.width(word, { font: paint.fonts.bold, size });
  const height = size * 0.72; // Helvetica's cap height
  const radians = (angle * Math.PI) / 180;
  // Rotate about the text's origin so that its centre lands on the page's centre.
  const cx = PAGE_WIDTH / 2;
  const cy = PAGE_HEIGHT / 2;
  const x = cx - (width / 2) * Math.cos(radians) + (height / 2) * Math.sin(radians);
  const y = cy - (width / 2) * Math.sin(radians) - (height / 2) * Math.cos(radians);
  page.drawText(word, { x, y, font: paint.fonts.bold, size, color, opacity, rotate: degrees(angle) });
}

function drawHeader(
  flow: Flow,
  paint: Painter,
  invoice: InvoiceView,
  parties: InvoiceParties,
  facts: { draft: boolean; voided: boolean; number: string; businessName: string },
): void {
  const page = flow.page;
  const bold = paint.fonts.bold;
  const leftWidth = 270;

  // Left: the business.
  let left = TOP;
  for (const line of paint.wrap(facts.businessName || ' ', leftWidth, { font: bold, size: 15 })) {
    paint.text(page, line, LEFT, left - 14, { font: bold, size: 15 });
    left -= 19;
  }
  left -= 2;
  for (const line of paint.wrap(printable(parties.business.address ?? '').trim(), leftWidth, { size: 9 })) {
    paint.text(page, line, LEFT, left - 9, { size: 9, color: MUTED });
    left -= 12;
  }

  // Right: title and the invoice's facts.
  const title = facts.draft ? 'DRAFT INVOICE' : 'INVOICE';
  const titleStyle = { font: bold, size: 20 };
  const titleWidth = paint.width(title, titleStyle);
  paint.text(page, title, RIGHT - titleWidth, TOP - 18, titleStyle);
  if (facts.voided) {
    const stamp = { font: bold, size: 20, color: RED };
    paint.text(page, 'VOID', RIGHT - titleWidth - 10 - paint.width('VOID', stamp), TOP - 18, stamp);
  }
  const status = invoice.displayStatus;
  const statusColor = status === 'overdue' || status === 'void' ? RED : status === 'paid' ? GREEN : INK;
  const factRows: Array<[string, string, TextStyle]> = [
    ...(facts.draft ? [] : [['Invoice number', facts.number, { font: bold }] as [string, string, TextStyle]]),
    ['Issue date', oneLine(invoice.issueDate), {}],
    ['Due date', oneLine(invoice.dueDate), {}],
    ['Status', statusLabel(status), { font: bold, color: statusColor }],
  ];
  let right = TOP - 40;
  const labelX = 350;
  for (const [label, value, style] of factRows) {
    paint.text(page, label, labelX, right - 9, { size: 9, color: MUTED });
    paint.right(page, value, RIGHT, right - 9, { size: 9.5, ...style }, RIGHT - labelX - 70);
    right -= 14;
  }

  // Bill to, and the balance due.
  let y = Math.min(left, right) - 26;
  const billTop = y;
  paint.text(page, 'BILL TO', LEFT, y - 8, { font: bold, size: 8, color: MUTED });
  y -= 14;
  const customer = parties.customer;
  for (const line of paint.wrap(oneLine(customer.name) || ' ', leftWidth, { font: bold, size: 11 })) {
    paint.text(page, line, LEFT, y - 11, { font: bold, size: 11 });
    y -= 14;
  }
  const contact = [...addressLines(customer.billingAddress), oneLine(customer.email), oneLine(customer.phone)].filter(Boolean);
  for (const line of contact.flatMap((entry) => paint.wrap(entry, leftWidth, { size: 9 }))) {
    paint.text(page, line, LEFT, y - 9, { size: 9 });
    y -= 12;
  }

  const box = { x: labelX - 10, width: RIGHT - labelX + 10, height: 62 };
  page.drawRectangle({ x: box.x, y: billTop - box.height, width: box.width, height: box.height, color: FILL });
  paint.text(page, 'Balance due', box.x + 10, billTop - 16, { size: 9, color: MUTED });
  paint.left(page, moneyText(invoice.balanceDue, invoice.currency), box.x + 10, billTop - 36, { font: bold, size: 16 }, box.width - 20);
  paint.left(page, `Due ${oneLine(invoice.dueDate)}`, box.x + 10, billTop - 52, { size: 9, color: MUTED }, box.width - 20);

  flow.y = Math.min(y, billTop - box.height) - 24;
}

function drawLines(flow: Flow, paint: Painter, invoice: InvoiceView): void {
  const bold = paint.fonts.bold;
  const currency = oneLine(invoice.currency);
  const header = {
    height: TABLE_HEADER_HEIGHT,
    draw: () => {
      const page = flow.page;
      const top = flow.y;
      page.drawRectangle({ x: LEFT, y: top - TABLE_HEADER_HEIGHT + 4, width: CONTENT_WIDTH, height: TABLE_HEADER_HEIGHT - 4, color: FILL });
      const baseline = top - 12.5;
      const style = { font: bold, size: 8.5 };
      paint.text(flow.page, 'Description', TABLE.description.x, baseline, style);
      paint.right(page, 'Qty', TABLE.quantity.right, baseline, style, TABLE.quantity.width);
      paint.right(page, `Unit price (${currency})`, TABLE.unitPrice.right, baseline, style, TABLE.unitPrice.width);
      paint.right(page, 'Tax', TABLE.tax.right, baseline, style, TABLE.tax.width);
      paint.right(page, `Total (${currency})`, TABLE.total.right, baseline, style, TABLE.total.width);
      flow.y -= TABLE_HEADER_HEIGHT;
    },
  };
  // The header with at least one row under it.
  flow.ensure(TABLE_HEADER_HEIGHT + ROW_LINE + 2 * ROW_PAD);
  header.draw();
  flow.repeatOnBreak(header);

  for (const line of invoice.lines) {
    const description = paint.wrap(printable(line.description).trim(), TABLE.description.width, { size: ROW_SIZE });
    const texts: Array<{ text: string; style: TextStyle }> = description.map((text) => ({ text, style: { size: ROW_SIZE } }));
    if (line.discount > 0) texts.push({ text: `Discount ${minusMoney(line.discount, invoice.currency)}`, style: { size: 8, color: MUTED } });

    const rows: Row[] = texts.map((entry, index) => {
      const first = index === 0;
      const last = index === texts.length - 1;
      const height = ROW_LINE + (first ? ROW_PAD : 0) + (last ? ROW_PAD : 0);
      return {
        height,
        draw: (page, top) => {
          const baseline = top - (first ? ROW_PAD : 0) - 8.5;
          paint.text(page, entry.text, TABLE.description.x, baseline, entry.style);
          if (first) {
            paint.right(page, oneLine(line.quantity), TABLE.quantity.right, baseline, { size: ROW_SIZE }, TABLE.quantity.width);
            paint.right(page, formatMoney(BigInt(line.unitPrice), invoice.currency), TABLE.unitPrice.right, baseline, { size: ROW_SIZE }, TABLE.unitPrice.width);
            paint.right(page, taxRateText(line.taxRateBps), TABLE.tax.right, baseline, { size: ROW_SIZE }, TABLE.tax.width);
            paint.right(page, formatMoney(BigInt(line.total), invoice.currency), TABLE.total.right, baseline, { size: ROW_SIZE }, TABLE.total.width);
          }
          if (last) paint.rule(page, top - height);
        },
      };
    });
    flow.place(rows);
  }
  flow.repeatOnBreak(null);
}

function drawTotals(flow: Flow, paint: Painter, invoice: InvoiceView, creditNotes: CreditNoteSummary[]): void {
  const bold = paint.fonts.bold;
  const currency = invoice.currency;
  const valueWidth = 130;
  const amountRow = (label: string, value: string, style: TextStyle = {}, options: { height?: number; ruleAbove?: boolean } = {}): Row => {
    const height = options.height ?? 16;
    return {
      height,
      draw: (page, top) => {
        const size = style.size ?? 9.5;
        const baseline = top - height + 5;
        if (options.ruleAbove) paint.rule(page, top - 1, TOTALS_LEFT, RIGHT, MUTED, 0.8);
        paint.left(page, label, TOTALS_LEFT, baseline, { ...style, size }, TOTALS_WIDTH - valueWidth - 8);
        paint.right(page, value, RIGHT, baseline, { ...style, size }, valueWidth);
      },
    };
  };

  const rows: Row[] = [gap(12), amountRow('Subtotal', moneyText(invoice.subtotal, currency))];
  if (invoice.discountTotal !== 0) rows.push(amountRow('Discount', minusMoney(invoice.discountTotal, currency)));
  rows.push(amountRow('Tax', moneyText(invoice.taxTotal, currency)));
  rows.push(amountRow('Total', moneyText(invoice.total, currency), { font: bold, size: 10.5 }, { height: 20, ruleAbove: true }));
  if (invoice.creditedTotal !== 0) {
    rows.push(amountRow('Credited', minusMoney(invoice.creditedTotal, currency)));
    for (const note of creditNotes) {
      const small = { size: 8, color: MUTED };
      rows.push(gap(2));
      rows.push(amountRow(`${oneLine(note.number)} (${oneLine(note.issueDate)})`, minusMoney(note.total, currency), small, { height: 12 }));
      for (const line of paint.wrap(printable(note.reason).trim(), TOTALS_WIDTH - 12, small)) {
        rows.push({ height: 10.5, draw: (page, top) => paint.text(page, line, TOTALS_LEFT + 8, top - 8, small) });
      }
    }
    if (creditNotes.length > 0) rows.push(gap(4));
  }
  rows.push(amountRow('Amount paid', minusMoney(invoice.amountPaid, currency)));
  rows.push(amountRow('Balance due', moneyText(invoice.balanceDue, currency), { font: bold, size: 11.5 }, { height: 22, ruleAbove: true }));
  flow.place(rows);
}

function drawSection(flow: Flow, paint: Painter, heading: string, text: string): void {
  const bold = paint.fonts.bold;
  const lines = paint.wrap(text, CONTENT_WIDTH, { size: 9 });
  const textRows = lines.map((line): Row => ({ height: 12, draw: (page, top) => paint.text(page, line, LEFT, top - 9, { size: 9 }) }));
  const headingRow: Row = { height: 30, draw: (page, top) => paint.text(page, heading, LEFT, top - 26, { font: bold, size: 10 }) };
  // Keep the heading with the first few lines, then let the text run over pages.
  flow.place([headingRow, ...textRows.slice(0, 3)]);
  flow.place(textRows.slice(3), false);
}
