import { DEFAULT_FORMATS, MAX_FORMAT_LENGTH, formatDocumentNumber, validateNumberFormat } from './numbering.js';

const jan2025 = new Date('2025-01-15T12:00:00Z');

describe('formatDocumentNumber', () => {
  it('renders the default formats', () => {
    expect(formatDocumentNumber(DEFAULT_FORMATS.invoice, { sequence: 1, issueDate: jan2025 })).toBe('INV-2025-0001');
    expect(formatDocumentNumber(DEFAULT_FORMATS.creditNote, { sequence: 42, issueDate: jan2025 })).toBe('CN-2025-0042');
    expect(formatDocumentNumber(DEFAULT_FORMATS.estimate, { sequence: 999, issueDate: jan2025 })).toBe('EST-2025-0999');
  });

  it.each([
    ['{0}', 7, '7'],
    ['{000}', 7, '007'],
    ['{000000}', 123, '000123'],
    ['{000000000000}', 1, '000000000001'],
  ])('pads %s with sequence %d to %s', (format, sequence, expected) => {
    expect(formatDocumentNumber(format, { sequence, issueDate: jan2025 })).toBe(expected);
  });

  it('never truncates a counter that outgrows its width', () => {
    expect(formatDocumentNumber('INV-{0000}', { sequence: 9999, issueDate: jan2025 })).toBe('INV-9999');
    expect(formatDocumentNumber('INV-{0000}', { sequence: 10000, issueDate: jan2025 })).toBe('INV-10000');
    expect(formatDocumentNumber('{0}', { sequence: 123456789, issueDate: jan2025 })).toBe('123456789');
  });

  it('accepts bigint sequences beyond 2^53', () => {
    expect(formatDocumentNumber('N{0000}', { sequence: 12345678901234567890n, issueDate: jan2025 })).toBe('N12345678901234567890');
    expect(formatDocumentNumber('N{0000}', { sequence: 5n, issueDate: jan2025 })).toBe('N0005');
  });

  it('renders year and month tokens in UTC', () => {
    const date = new Date('2028-03-09T00:00:00Z');
    expect(formatDocumentNumber('{YYYY}/{MM}/{000}', { sequence: 5, issueDate: date })).toBe('2028/03/005');
    expect(formatDocumentNumber('{YY}{MM}-{0000}', { sequence: 5, issueDate: date })).toBe('2803-0005');
    expect(formatDocumentNumber('A{YYYY}B{YY}C{MM}D{00}', { sequence: 5, issueDate: new Date('2030-12-01T00:00:00Z') })).toBe('A2030B30C12D05');
  });

  it('uses the UTC calendar at year boundaries, not the server time zone', () => {
    expect(formatDocumentNumber('{YYYY}-{MM}-{0}', { sequence: 1, issueDate: new Date('2024-12-31T23:59:59.999Z') })).toBe('2024-12-1');
    expect(formatDocumentNumber('{YYYY}-{MM}-{0}', { sequence: 1, issueDate: new Date('2025-01-01T00:00:00Z') })).toBe('2025-01-1');
    // 23:30 on Dec 31 in New York is already next year in UTC.
    expect(formatDocumentNumber('{YYYY}-{0}', { sequence: 1, issueDate: new Date('2025-12-31T23:30:00-05:00') })).toBe('2026-1');
  });

  it('allows a token to repeat and literals around it', () => {
    expect(formatDocumentNumber('{YYYY}.{YYYY}_{0}', { sequence: 3, issueDate: jan2025 })).toBe('2025.2025_3');
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('refuses sequence %p', (sequence) => {
    expect(() => formatDocumentNumber('{0000}', { sequence, issueDate: jan2025 })).toThrow(RangeError);
  });

  it('refuses a non-positive bigint, an invalid date and an invalid format', () => {
    expect(() => formatDocumentNumber('{0000}', { sequence: 0n, issueDate: jan2025 })).toThrow(RangeError);
    expect(() => formatDocumentNumber('{0000}', { sequence: 1, issueDate: new Date('nope') })).toThrow(RangeError);
    expect(() => formatDocumentNumber('INV {0000}', { sequence: 1, issueDate: jan2025 })).toThrow(/Invalid document number format/);
  });
});

describe('validateNumberFormat', () => {
  it.each([
    ...Object.values(DEFAULT_FORMATS),
    '{0}',
    '{000000000000}',
    '{YYYY}{MM}{0000}',
    'A-B_C/D.E{0}',
    'inv/{YY}/{MM}/{00000}',
    `${'X'.repeat(MAX_FORMAT_LENGTH - 6)}{0000}`,
  ])('accepts %p', (format) => {
    expect(validateNumberFormat(format)).toEqual({ ok: true });
  });

  it.each([
    ['', /empty/],
    ['INV-2025', /counter/],
    ['{YYYY}-{MM}', /counter/],
    ['{000}-{000}', /only one counter/],
    ['{0000000000000}', /at most 12/],
    ['{}', /Unknown token/],
    ['{YYY}', /Unknown token/],
    ['{DD}-{0000}', /Unknown token/],
    ['{yyyy}-{0000}', /Unknown token/],
    ['{0001}', /Unknown token/],
    ['{ 0000 }', /Unknown token/],
    ['{{0000}}', /Unknown token/],
    ['INV-{0000', /Unclosed/],
    ['INV-}{0000}', /Unmatched/],
    ['INV {0000}', /not allowed/],
    ['INV#{0000}', /not allowed/],
    ['INV\\{0000}', /not allowed/],
    ['ÏNV-{0000}', /not allowed/],
    ['INV-{0000}\n', /not allowed/],
    ['<b>{0000}', /not allowed/],
    [`${'X'.repeat(MAX_FORMAT_LENGTH - 5)}{0000}`, /longer than 40/],
  ])('refuses %p', (format, message) => {
    const result = validateNumberFormat(format);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });

  it('refuses a non-string at run time', () => {
    expect(validateNumberFormat(undefined as unknown as string).ok).toBe(false);
  });
});
