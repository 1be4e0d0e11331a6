import fc from 'fast-check';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { pdfText } from '../../test/support/pdf-text.js';
import { documentTotals, formatMoney, parseQuantity } from '../common/money/money.js';
import type { LineView } from './document-lines.js';
import { isWinAnsi, printable, renderInvoicePdf, taxRateText } from './invoice-pdf.js';
import type { InvoiceParties, InvoiceView } from './invoice-view.js';

// The PDFs are parsed back with pdf.js (test/support/pdf-text.ts explains how it is loaded under
// Jest's ESM VM modules: legacy build, worker module imported by the helper, no worker thread).

const generatedAt = new Date('2025-03-01T09:30:00Z');

function line(description: string, quantity: string, unitPrice: number, taxRateBps: number, amounts: Omit<LineView, 'description' | 'quantity' | 'unitPrice' | 'taxRateBps'>): LineView {
  return { description, quantity, unitPrice, taxRateBps, ...amounts };
}

/**
 * Three EUR lines with a line discount, a 10.00 document discount and two tax rates; the
 * amounts were worked out by hand and are checked against documentTotals() below.
 */
const LINES: LineView[] = [
  line('Boiler service and annual safety inspection', '1', 12000, 2000, { discount: 0, subtotal: 12000, discountTotal: 436, tax: 2313, total: 13877 }),
  line('Copper pipe 15 mm', '2.5', 850, 2000, { discount: 125, subtotal: 2125, discountTotal: 198, tax: 385, total: 2312 }),
  line('Labour (hours)', '3', 4500, 825, { discount: 0, subtotal: 13500, discountTotal: 491, tax: 1073, total: 14082 }),
];

function makeInvoice(overrides: Partial<InvoiceView> = {}): InvoiceView {
  return {
    id: '0b9f3c1e-6a0f-4d59-9d7e-0c3b7c2f1a11',
    number: 'INV-2025-0042',
    status: 'partially_paid',
    displayStatus: 'overdue',
    overdue: true,
    customerId: '5a1f7a40-3c55-4a8e-9f41-1f1d6f0f2b22',
    currency: 'EUR',
    issueDate: '2025-01-15',
    dueDate: '2025-02-14',
    notes: 'Thank you for your business.\nParts carry a 12-month warranty.',
    terms: 'Payment due within 30 days.',
    lines: LINES,
    discount: 1000,
    subtotal: 27625,
    discountTotal: 1125,
    taxTotal: 3771,
    total: 30271,
    creditedTotal: 2000,
    amountPaid: 10000,
    balanceDue: 18271,
    version: 3,
    createdAt: '2025-01-15T10:00:00.000Z',
    updatedAt: '2025-02-20T10:00:00.000Z',
    finalizedAt: '2025-01-15T10:05:00.000Z',
    sentAt: '2025-01-15T10:06:00.000Z',
    lastSentAt: '2025-01-15T10:06:00.000Z',
    sendCount: 1,
    viewedAt: null,
    voidedAt: null,
    voidReason: null,
    sourceEstimateId: null,
    recurringInvoiceId: null,
    ...overrides,
  };
}

const PARTIES: InvoiceParties = {
  business: { name: 'Hartley Plumbing Ltd', address: '12 Mill Lane\nLeeds LS1 4AB\nUnited Kingdom', paymentInstructions: 'Bank transfer to IBAN GB33 BUKB 2020 1555 5555 55, reference INV-2025-0042.' },
  customer: {
    name: 'Margaret Okafor',
    email: 'margaret@example.com',
    phone: '+44 113 496 0000',
    billingAddress: { line1: '7 Rosemary Court', line2: 'Flat 3', city: 'York', postalCode: 'YO1 7HH', country: 'GB' },
  },
};

const CREDIT_NOTES = [{ number: 'CN-2025-0007', issueDate: '2025-02-01', total: 2000, reason: 'Pipe returned unused' }];

/** All pages' text on one line, for "contains" checks that do not care about line breaks. */
async function flatText(bytes: Uint8Array): Promise<string> {
  return (await pdfText(bytes)).join('\n').replace(/\s+/g, ' ');
}

function eur(amount: number): string {
  return `${formatMoney(BigInt(amount), 'EUR')} EUR`;
}

describe('renderInvoicePdf', () => {
  it('uses a consistent fixture', () => {
    const totals = documentTotals(
      LINES.map((l) => ({ quantity: parseQuantity(l.quantity), unitPrice: BigInt(l.unitPrice), taxRateBps: l.taxRateBps, discount: BigInt(l.discount) })),
      { discount: 1000n },
    );
    const invoice = makeInvoice();
    expect(totals.lines.map((l) => [Number(l.subtotal), Number(l.discount), Number(l.tax), Number(l.total)])).toEqual(LINES.map((l) => [l.subtotal, l.discountTotal, l.tax, l.total]));
    expect([totals.subtotal, totals.discount, totals.tax, totals.total].map(Number)).toEqual([invoice.subtotal, invoice.discountTotal, invoice.taxTotal, invoice.total]);
    expect(invoice.total - invoice.creditedTotal - invoice.amountPaid).toBe(invoice.balanceDue);
  });

  it('renders a readable invoice with the parties, lines and totals', async () => {
    const invoice = makeInvoice();
    const bytes = await renderInvoicePdf(invoice, PARTIES, { creditNotes: CREDIT_NOTES, generatedAt });
    expect(Buffer.from(bytes.subarray(0, 5)).toString('latin1')).toBe('%PDF-');

    const pages = await pdfText(bytes);
    expect(pages).toHaveLength(1);
    const text = await flatText(bytes);
    expect(text).toContain('INVOICE');
    expect(text).not.toContain('DRAFT');
    expect(text).toContain('INV-2025-0042');
    expect(text).toContain('Hartley Plumbing Ltd');
    expect(text).toContain('Leeds LS1 4AB');
    expect(text).toContain('Issue date 2025-01-15');
    expect(text).toContain('Due date 2025-02-14');
    expect(text).toContain('Status Overdue');

    expect(text).toContain('Margaret Okafor');
    expect(text).toContain('7 Rosemary Court');
    expect(text).toContain('York YO1 7HH');
    expect(text).toContain('margaret@example.com');
    expect(text).toContain('+44 113 496 0000');

    for (const l of LINES) expect(text).toContain(l.description);
    // Quantity, unit price, tax rate and line total of each line, in that order.
    expect(text).toContain('2.5 8.50 20% 23.12');
    expect(text).toContain('3 45.00 8.25% 140.82');
    expect(text).toContain('Discount -1.25 EUR'); // the line discount of line 2

    expect(text).toContain(`Subtotal ${eur(27625)}`);
    expect(text).toContain(`Discount ${eur(-1125)}`);
    expect(text).toContain(`Tax ${eur(3771)}`);
    expect(text).toContain(`Total ${eur(30271)}`);
    expect(text).toContain('Total 302.71 EUR');
    expect(text).toContain(`Credited ${eur(-2000)}`);
    expect(text).toContain('CN-2025-0007 (2025-02-01) -20.00 EUR');
    expect(text).toContain('Pipe returned unused');
    expect(text).toContain(`Amount paid ${eur(-10000)}`);
    expect(text).toContain('Balance due 182.71 EUR');

    expect(text).toContain('Notes Thank you for your business. Parts carry a 12-month warranty.');
    expect(text).toContain('Terms Payment due within 30 days.');
    expect(text).toContain('Payment instructions Bank transfer to IBAN GB33 BUKB 2020 1555 5555 55');
    expect(text).toContain('Page 1 of 1');
  });

  it('prints newlines in free text as separate lines', async () => {
    const [page] = await pdfText(await renderInvoicePdf(makeInvoice(), PARTIES, { generatedAt }));
    const lines = page.split('\n');
    expect(lines).toContain('Thank you for your business.');
    expect(lines).toContain('Parts carry a 12-month warranty.');
  });

  it('leaves out zero discount and credit rows', async () => {
    const plain = makeInvoice({ lines: [line('Call-out', '1', 5000, 0, { discount: 0, subtotal: 5000, discountTotal: 0, tax: 0, total: 5000 })], discount: 0, subtotal: 5000, discountTotal: 0, taxTotal: 0, total: 5000, creditedTotal: 0, amountPaid: 0, balanceDue: 5000 });
    const text = await flatText(await renderInvoicePdf(plain, PARTIES, { generatedAt }));
    expect(text).not.toContain('Discount');
    expect(text).not.toContain('Credited');
    expect(text).toContain('Tax 0.00 EUR');
    expect(text).toContain('Amount paid 0.00 EUR');
    expect(text).toContain('Balance due 50.00 EUR');
  });

  it('wraps a long description over several lines without losing words', async () => {
    const long = 'Replacement of the complete central heating system including ' + 'radiators, valves, pipework and commissioning '.repeat(6).trim();
    const lines = [line(long, '1', 100, 0, { discount: 0, subtotal: 100, discountTotal: 0, tax: 0, total: 100 })];
    const [page] = await pdfText(await renderInvoicePdf(makeInvoice({ lines }), PARTIES, { generatedAt }));
    const descriptionLines = page.split('\n').filter((l) => /radiators|central heating|commissioning/.test(l));
    expect(descriptionLines.length).toBeGreaterThan(2);
    expect(page.replace(/\s+/g, ' ')).toContain(long.split(' ').slice(-6).join(' '));
  });

  it('paginates 500 lines with the table header repeated, page numbers, and totals at the end', async () => {
    const lines = Array.from({ length: 500 }, (_, i) => line(`Item ${i + 1}: fitting`, '1', 100, 0, { discount: 0, subtotal: 100, discountTotal: 0, tax: 0, total: 100 }));
    const invoice = makeInvoice({ lines, discount: 0, subtotal: 50000, discountTotal: 0, taxTotal: 0, total: 50000, creditedTotal: 0, amountPaid: 0, balanceDue: 50000, notes: null, terms: null });
    const pages = await pdfText(await renderInvoicePdf(invoice, { ...PARTIES, business: { ...PARTIES.business, paymentInstructions: null } }, { generatedAt }));

    expect(pages.length).toBeGreaterThan(5);
    pages.forEach((page, index) => {
      expect(page).toContain(`Page ${index + 1} of ${pages.length}`);
      expect(page).toContain('Description');
      expect(page).toContain('Unit price (EUR)');
      if (index > 0) expect(page).toContain('Invoice INV-2025-0042 (continued)');
    });
    const all = pages.join('\n');
    for (const n of [1, 137, 250, 499, 500]) expect(all).toContain(`Item ${n}: fitting`);
    expect(all.match(/Item \d+: fitting/g)).toHaveLength(500);
    const last = pages[pages.length - 1].replace(/\s+/g, ' ');
    expect(last).toContain('Item 500: fitting');
    expect(last).toContain('Total 500.00 EUR');
    expect(last).toContain('Balance due 500.00 EUR');
    expect(pages.slice(0, -1).join('\n')).not.toContain('Subtotal');
  });

  it('splits a line too tall for one page across pages', async () => {
    const tall = Array.from({ length: 120 }, (_, i) => `Step ${i + 1}`).join('\n');
    const lines = [line(tall, '1', 100, 0, { discount: 0, subtotal: 100, discountTotal: 0, tax: 0, total: 100 })];
    const pages = await pdfText(await renderInvoicePdf(makeInvoice({ lines }), PARTIES, { generatedAt }));
    expect(pages.length).toBeGreaterThan(1);
    const all = pages.join('\n');
    expect(all).toContain('Step 1 1 1.00 0% 1.00'); // the amounts are on the row's first line
    expect(all.match(/^Step \d+$/gm)).toHaveLength(119);
    expect(all).toContain('Step 120');
  });

  it.each([
    ['JPY', 1500, '1500 JPY'],
    ['BHD', 1250, '1.250 BHD'],
  ])('prints %s amounts with the currency’s decimals', async (currency, amount, expected) => {
    const lines = [line('Consulting', '1', amount, 0, { discount: 0, subtotal: amount, discountTotal: 0, tax: 0, total: amount })];
    const invoice = makeInvoice({ currency, lines, discount: 0, subtotal: amount, discountTotal: 0, taxTotal: 0, total: amount, creditedTotal: 0, amountPaid: 0, balanceDue: amount });
    const text = await flatText(await renderInvoicePdf(invoice, PARTIES, { generatedAt }));
    expect(text).toContain(`Total ${expected}`);
    expect(text).toContain(`Balance due ${expected}`);
    expect(text).toContain(`Unit price (${currency})`);
  });

  it('marks a draft (no number yet)', async () => {
    const invoice = makeInvoice({ number: null, status: 'draft', displayStatus: 'draft', overdue: false, finalizedAt: null });
    const bytes = await renderInvoicePdf(invoice, PARTIES, { generatedAt });
    const text = await flatText(bytes);
    expect(text).toContain('DRAFT INVOICE');
    expect(text).toContain('Status Draft');
    expect(text).toContain('Draft invoice');
    expect(text).not.toContain('Invoice number');
    const doc = await PDFDocument.load(bytes, { updateMetadata: false });
    expect(doc.getTitle()).toBe('Draft invoice');
  });

  it('marks a void invoice', async () => {
    const invoice = makeInvoice({ status: 'void', displayStatus: 'void', overdue: false, voidedAt: '2025-02-02T00:00:00.000Z', voidReason: 'Issued in error' });
    const text = await flatText(await renderInvoicePdf(invoice, PARTIES, { generatedAt }));
    expect(text).toContain('VOID');
    expect(text).toContain('Status Void');
  });

  it('sets metadata without customer contact details', async () => {
    const bytes = await renderInvoicePdf(makeInvoice(), PARTIES, { generatedAt });
    const doc = await PDFDocument.load(bytes, { updateMetadata: false });
    expect(doc.getTitle()).toBe('Invoice INV-2025-0042');
    expect(doc.getProducer()).toBe('Ledgerline');
    expect(doc.getCreationDate()?.toISOString()).toBe(generatedAt.toISOString());
    expect(doc.getModificationDate()?.toISOString()).toBe(generatedAt.toISOString());
    const metadata = [doc.getAuthor(), doc.getSubject(), doc.getKeywords(), doc.getCreator(), doc.getTitle()].join(' ');
    expect(metadata).not.toContain('margaret');
    expect(metadata).not.toContain('496');
  });

  it('is deterministic for the same input and generatedAt', async () => {
    const first = await renderInvoicePdf(makeInvoice(), PARTIES, { creditNotes: CREDIT_NOTES, generatedAt });
    const second = await renderInvoicePdf(makeInvoice(), PARTIES, { creditNotes: CREDIT_NOTES, generatedAt });
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
    const voided = makeInvoice({ status: 'void', displayStatus: 'void' });
    expect(Buffer.from(await renderInvoicePdf(voided, PARTIES, { generatedAt })).equals(Buffer.from(await renderInvoicePdf(voided, PARTIES, { generatedAt })))).toBe(true);
  });

  it('replaces characters the standard fonts cannot encode instead of throwing', async () => {
    const lines = [line('Wrench 🔧 set\u0007 for 株式会社', '1', 100, 0, { discount: 0, subtotal: 100, discountTotal: 0, tax: 0, total: 100 })];
    const parties: InvoiceParties = {
      business: { name: '株式会社 Tanaka', address: 'Line one\u0000\nLine two', paymentInstructions: 'Pay 👉 now\u001b[31m' },
      customer: { name: 'Zoë Ångström\u202e', email: null, phone: null, billingAddress: { city: 'Kraków', country: 'PL' } },
    };
    const bytes = await renderInvoicePdf(makeInvoice({ lines, notes: 'Ligature ﬁ and café — “quoted” €5' }), parties, { generatedAt });
    const text = await flatText(bytes);
    expect(text).toContain('Wrench ? set for ????');
    expect(text).toContain('???? Tanaka');
    expect(text).toContain('Line one');
    expect(text).toContain('Pay ? now[31m');
    expect(text).toContain('Zoë Ångström');
    expect(text).toContain('Kraków');
    expect(text).toContain('Ligature fi and café — “quoted” €5');
    expect(Array.from(text).filter((char) => char.charCodeAt(0) < 0x20 || char === '\u202e')).toEqual([]);
  });
});

describe('printable', () => {
  it.each([
    ['株式会社', '????'],
    ['🔧', '?'],
    ['bell\u0007', 'bell'],
    ['nul\u0000 esc\u001b del\u007f c1\u0085', 'nul esc del c1'],
    ['a\r\nb\rc\nd\u2028e', 'a\nb\nc\nd\ne'],
    ['tab\there', 'tab here'],
    ['Café €5 “quotes” – dash … Œuvre Ÿ ™', 'Café €5 “quotes” – dash … Œuvre Ÿ ™'],
    ['Cafe\u0301', 'Café'], // decomposed input is composed first
    ['ﬁne Ａ１', 'fine A1'], // compatibility forms
    ['Łódź Dvořák Gdańsk', '?ódz Dvorák Gdansk'], // accents WinAnsi lacks fall back to the base letter
    ['\u202eevil\u200b zero\ufeff', 'evil zero'], // bidi override, zero-width space, BOM
    ['❤️ 👨‍👩‍👧', '? ???'], // variation selector and zero-width joiners dropped
    ['5 \u2212 3', '5 - 3'],
    ['\ud800 lone', '? lone'], // a lone surrogate
  ])('printable(%j) is %j', (input, expected) => {
    expect(printable(input)).toBe(expected);
  });

  it('knows exactly the characters Helvetica encodes', async () => {
    const doc = await PDFDocument.create();
    const fonts = [await doc.embedFont(StandardFonts.Helvetica), await doc.embedFont(StandardFonts.HelveticaBold)];
    for (const font of fonts) {
      const supported = new Set(font.getCharacterSet());
      const disagreements: number[] = [];
      for (let codePoint = 0; codePoint <= 0x10ffff; codePoint += 1) if (isWinAnsi(codePoint) !== supported.has(codePoint)) disagreements.push(codePoint);
      expect(disagreements).toEqual([]);
    }
  });

  it('always returns text Helvetica can encode, line breaks aside', async () => {
    const doc = await PDFDocument.create();
    const font = await doc.embedFont(StandardFonts.Helvetica);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (input) => {
        for (const part of printable(input).split('\n')) font.encodeText(part);
      }),
      { numRuns: 500 },
    );
  });
});

describe('taxRateText', () => {
  it.each([
    [2000, '20%'],
    [825, '8.25%'],
    [50, '0.5%'],
    [1, '0.01%'],
    [0, '0%'],
    [10000, '100%'],
  ])('%d bps is %s', (bps, expected) => {
    expect(taxRateText(bps)).toBe(expected);
  });
});
