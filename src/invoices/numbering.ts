/**
 * Business-configurable document numbers ("INV-{YYYY}-{0000}").
 * A format is a short template: literal text plus the tokens {YYYY}, {YY}, {MM} and exactly one
 * counter token {0…0} whose zero count is the minimum width. The literal alphabet is kept to
 * characters that are safe in file names, URLs, PDF metadata and bank transfer references, so a
 * number never needs escaping anywhere it travels.
 */

export type DocumentKind = 'invoice' | 'creditNote' | 'estimate';

export const DEFAULT_FORMATS: Readonly<Record<DocumentKind, string>> = Object.freeze({
  invoice: 'INV-{YYYY}-{0000}',
  creditNote: 'CN-{YYYY}-{0000}',
  estimate: 'EST-{YYYY}-{0000}',
});

export const MAX_FORMAT_LENGTH = 40;
const MAX_COUNTER_WIDTH = 12;

export type NumberFormatValidation = { ok: true } | { ok: false; message: string };

export interface DocumentNumberInput {
  sequence: number | bigint;
  /** Read in UTC: the same instant must give the same number on every server. */
  issueDate: Date;
}

type Part = { kind: 'literal'; text: string } | { kind: 'year4' | 'year2' | 'month' } | { kind: 'counter'; width: number };

const LITERAL = /^[A-Za-z0-9_\-/.]$/;

/** Splits a format into parts, or returns the reason it is refused. Never throws. */
function parse(format: unknown): Part[] | string {
  if (typeof format !== 'string') return 'The format must be a string.';
  if (format.length === 0) return 'The format is empty.';
  if (format.length > MAX_FORMAT_LENGTH) return `The format is longer than ${MAX_FORMAT_LENGTH} characters.`;
  const parts: Part[] = [];
  let counters = 0;
  let i = 0;
  while (i < format.length) {
    const char = format[i];
    if (char === '{') {
      const close = format.indexOf('}', i + 1);
      if (close === -1) return `Unclosed "{" at position ${i + 1}.`;
      const token = format.slice(i + 1, close);
      if (token === 'YYYY') parts.push({ kind: 'year4' });
      else if (token === 'YY') parts.push({ kind: 'year2' });
      else if (token === 'MM') parts.push({ kind: 'month' });
      else if (/^0+$/.test(token)) {
        if (token.length > MAX_COUNTER_WIDTH) return `The counter token may have at most ${MAX_COUNTER_WIDTH} zeros.`;
        counters += 1;
        parts.push({ kind: 'counter', width: token.length });
      } else return `Unknown token "{${token}}": use {YYYY}, {YY}, {MM} or a counter such as {0000}.`;
      i = close + 1;
      continue;
    }
    if (char === '}') return `Unmatched "}" at position ${i + 1}.`;
    if (!LITERAL.test(char)) return `The character "${char}" is not allowed: use letters, digits, "-", "_", "/" or ".".`;
    const last = parts[parts.length - 1];
    if (last?.kind === 'literal') last.text += char;
    else parts.push({ kind: 'literal', text: char });
    i += 1;
  }
  if (counters === 0) return 'The format needs a counter token such as {0000}.';
  if (counters > 1) return 'The format may contain only one counter token.';
  return parts;
}

export function validateNumberFormat(format: string): NumberFormatValidation {
  const parsed = parse(format);
  return typeof parsed === 'string' ? { ok: false, message: parsed } : { ok: true };
}

/**
 * Renders one document number. The counter is zero-padded to the token's width and never
 * truncated: sequence 12345 in {0000} gives "12345", because a truncated number would collide
 * with an earlier one.
 * Throws on an invalid format, a sequence that is not a positive integer, or an invalid date:
 * these are programming errors, formats are validated when the business saves them.
 */
export function formatDocumentNumber(format: string, input: DocumentNumberInput): string {
  const parsed = parse(format);
  if (typeof parsed === 'string') throw new Error(`Invalid document number format: ${parsed}`);
  const counter = sequenceDigits(input.sequence);
  const time = input.issueDate instanceof Date ? input.issueDate.getTime() : Number.NaN;
  if (Number.isNaN(time)) throw new RangeError('issueDate must be a valid Date.');
  const year = String(input.issueDate.getUTCFullYear()).padStart(4, '0');
  const month = String(input.issueDate.getUTCMonth() + 1).padStart(2, '0');
  return parsed
    .map((part) => {
      switch (part.kind) {
        case 'literal':
          return part.text;
        case 'year4':
          return year;
        case 'year2':
          return year.slice(-2);
        case 'month':
          return month;
        case 'counter':
          return counter.padStart(part.width, '0');
      }
    })
    .join('');
}

function sequenceDigits(sequence: number | bigint): string {
  if (typeof sequence === 'bigint') {
    if (sequence < 1n) throw new RangeError('sequence must be a positive integer.');
    return sequence.toString();
  }
  // Beyond 2^53 a number has lost its last digits already; such counters must arrive as bigint.
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 1) {
    throw new RangeError('sequence must be a positive safe integer (use a bigint beyond 2^53).');
  }
  return String(sequence);
}
