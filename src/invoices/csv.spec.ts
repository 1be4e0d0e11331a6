import fc from 'fast-check';
import { INVOICE_CSV_HEADER, invoiceCsvRow, moneyCell, neutralizeFormula, toCsv } from './csv.js';
import type { InvoiceView } from './invoice-view.js';

/**
 * A minimal RFC 4180 parser, strict enough to catch malformed output: records end with CRLF,
 * a quoted field must be followed by a comma or the end of its record, a bare field holds no
 * quote, CR or LF.
 */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  while (i < text.length) {
    let value = '';
    if (text[i] === '"') {
      i += 1;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        value += text[i];
        i += 1;
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') throw new Error(`quote inside a bare field at ${i}`);
        value += text[i];
        i += 1;
      }
    }
    record.push(value);
    if (text[i] === ',') {
      i += 1;
    } else if (text.startsWith('\r\n', i)) {
      records.push(record);
      record = [];
      i += 2;
    } else {
      throw new Error(`expected a comma or CRLF at ${i}`);
    }
  }
  if (record.length > 0) throw new Error('last record has no CRLF');
  return records;
}

function invoice(overrides: Partial<InvoiceView> = {}): InvoiceView {
  return {
    id: 'f2c2b1a4-0000-4000-8000-000000000001',
    number: 'INV-2025-0042',
    status: 'partially_paid',
    displayStatus: 'overdue',
    overdue: true,
    customerId: 'f2c2b1a4-0000-4000-8000-000000000002',
    currency: 'EUR',
    issueDate: '2025-01-15',
    dueDate: '2025-02-14',
    notes: null,
    terms: null,
    lines: [],
    discount: 1000,
    subtotal: 27625,
    discountTotal: 1125,
    taxTotal: 3771,
    total: 30271,
    creditedTotal: 2000,
    amountPaid: 10000,
    balanceDue: 18271,
    version: 1,
    createdAt: '2025-01-15T10:00:00.000Z',
    updatedAt: '2025-01-15T10:00:00.000Z',
    finalizedAt: '2025-01-15T10:00:00.000Z',
    sentAt: null,
    lastSentAt: null,
    sendCount: 0,
    viewedAt: null,
    voidedAt: null,
    voidReason: null,
    sourceEstimateId: null,
    recurringInvoiceId: null,
    ...overrides,
  };
}

describe('toCsv', () => {
  it('ends every record with CRLF and leaves plain fields bare', () => {
    expect(toCsv([['a', 'b'], ['c', 'd']])).toBe('a,b\r\nc,d\r\n');
    expect(toCsv([])).toBe('');
    expect(toCsv([[]])).toBe('\r\n');
  });

  it('writes null and undefined as empty fields', () => {
    expect(toCsv([[null, 'x', undefined, '']])).toBe(',x,,\r\n');
  });

  it.each([
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['"', '""""'],
    ['line\nbreak', '"line\nbreak"'],
    ['line\r\nbreak', '"line\r\nbreak"'],
    ['cr\ronly', '"cr\ronly"'],
    ['semi;colon', 'semi;colon'],
    [' spaced ', ' spaced '],
    ['Zoë 株式会社 🔧', 'Zoë 株式会社 🔧'],
  ])('quotes %j as %j', (value, expected) => {
    expect(toCsv([[value]])).toBe(`${expected}\r\n`);
  });

  it.each([
    ['=SUM(A1)', "'=SUM(A1)"],
    ['+1', "'+1"],
    ['-2+3', "'-2+3"],
    ['@cmd', "'@cmd"],
    ['\t=1', "'\t=1"], // TAB needs no quotes
    ['\r=1', `"'\r=1"`], // CR does
    ['-12.50', "'-12.50"], // text, even when it looks like a number: use moneyCell for amounts
    ['=1,2', `"'=1,2"`],
  ])('neutralises the formula %j as %j', (value, expected) => {
    expect(toCsv([[value]])).toBe(`${expected}\r\n`);
  });

  it('leaves text that only contains formula characters later on alone', () => {
    expect(toCsv([['a=b', 'x+y', 'e-mail', 'me@example.com', ' =1']])).toBe('a=b,x+y,e-mail,me@example.com, =1\r\n');
  });

  it('escapes and quotes a hostile customer name correctly', () => {
    const name = '=HYPERLINK("http://x")';
    const csv = toCsv([[name]]);
    expect(csv).toBe(`"'=HYPERLINK(""http://x"")"\r\n`);
    expect(parseCsv(csv)).toEqual([[`'${name}`]]);
  });

  it('writes numbers as they are, negative ones included', () => {
    expect(toCsv([[0, 42, -12.5, 1.25, -0, 1e21]])).toBe('0,42,-12.5,1.25,0,1e+21\r\n');
  });

  it('treats non-finite numbers as text', () => {
    expect(toCsv([[Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]])).toBe("NaN,Infinity,'-Infinity\r\n");
  });

  it('writes numeric cells without the prefix only when they are plain decimals', () => {
    expect(toCsv([[{ number: '-12.50' }, { number: '1234' }, { number: '0.001' }, { number: '-0' }]])).toBe('-12.50,1234,0.001,-0\r\n');
    expect(toCsv([[{ number: '-1+2' }, { number: '=1' }, { number: '-12.' }, { number: '.5' }, { number: '1,5' }, { number: '' }, { number: '-12.50\n' }]])).toBe(
      `'-1+2,'=1,'-12.,.5,"1,5",,"'-12.50\n"\r\n`,
    );
  });

  it('never lets a text cell start with a formula character, and round-trips', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('=', '+', '-', '@', '\t', '\r', '"', ',', '\n')), { minLength: 1, maxLength: 5 }), { maxLength: 5 }), (rows) => {
        const parsed = parseCsv(toCsv(rows));
        expect(parsed).toEqual(rows.map((row) => row.map(neutralizeFormula)));
        for (const cell of parsed.flat()) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
      }),
      { numRuns: 300 },
    );
  });
});

describe('moneyCell', () => {
  it.each([
    [123450, 'EUR', '1234.50'],
    [-1250, 'EUR', '-12.50'],
    [0, 'EUR', '0.00'],
    [1500, 'JPY', '1500'],
    [1250, 'BHD', '1.250'],
    [-5, 'BHD', '-0.005'],
  ])('%d %s is %s, unescaped', (amount, currency, expected) => {
    expect(moneyCell(amount, currency)).toEqual({ number: expected });
    expect(toCsv([[moneyCell(amount, currency)]])).toBe(`${expected}\r\n`);
  });
});

describe('invoiceCsvRow', () => {
  it('has one cell per header column', () => {
    expect(invoiceCsvRow(invoice(), 'Margaret Okafor')).toHaveLength(INVOICE_CSV_HEADER.length);
  });

  it('writes the invoice with decimal amounts', () => {
    const csv = toCsv([INVOICE_CSV_HEADER, invoiceCsvRow(invoice(), 'Okafor, Margaret')]);
    expect(csv).toBe(
      'Number,Status,Customer,Issue date,Due date,Currency,Subtotal,Discount,Tax,Total,Credited,Paid,Balance due\r\n' +
        'INV-2025-0042,overdue,"Okafor, Margaret",2025-01-15,2025-02-14,EUR,276.25,11.25,37.71,302.71,20.00,100.00,182.71\r\n',
    );
  });

  it('round-trips through an RFC 4180 parser, with a hostile customer name neutralised', () => {
    const name = '=HYPERLINK("http://x","Click, me")\r\n';
    const row = invoiceCsvRow(invoice({ number: null, status: 'draft', displayStatus: 'draft', currency: 'JPY', subtotal: 1500, discountTotal: 0, taxTotal: 150, total: 1650, creditedTotal: 0, amountPaid: 0, balanceDue: 1650 }), name);
    const parsed = parseCsv(toCsv([INVOICE_CSV_HEADER, row]));
    expect(parsed).toEqual([[...INVOICE_CSV_HEADER], ['', 'draft', `'${name}`, '2025-01-15', '2025-02-14', 'JPY', '1500', '0', '150', '1650', '0', '0', '1650']]);
  });
});
