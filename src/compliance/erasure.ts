/**
 * Pure helpers of erasure: what an erased customer looks like, and scrubbing erased values
 * (and anything shaped like an email address or phone number) out of free text such as the
 * reason an admin typed, so the audit trail keeps the erasure event but no erased value.
 */
export const ERASED_NAME = 'Erased customer';
export const ERASED_EMAIL = 'erased-customer@erased.invalid';
export const ERASED_TEXT = '[erased]';

const EMAIL_LIKE = /[^\s@<>"'(),;]+@[^\s@<>"'(),;]+\.[^\s@<>"'(),;]+/g;
// Seven or more digits, optionally separated by spaces, dots, dashes, slashes or parentheses, with an optional leading +.
const PHONE_LIKE = /\+?\d(?:[\s().\-/]*\d){6,}/g;
// A value shorter than this is not searched for on its own (a name "Al" would eat every "al").
const MIN_VALUE_LENGTH = 3;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Every value worth scrubbing: each given string, and each word of a multi-word value of 4+ letters. */
export function scrubTerms(values: ReadonlyArray<string | null | undefined>): string[] {
  const terms = new Set<string>();
  for (const value of values) {
    if (typeof value !== 'string') continue;
    const trimmed = value.trim();
    if (trimmed.length >= MIN_VALUE_LENGTH) terms.add(trimmed);
    for (const word of trimmed.split(/[\s,]+/)) if (word.length >= 4) terms.add(word);
  }
  // Longest first, so "Carla Customer" goes before "Carla".
  return [...terms].sort((a, b) => b.length - a.length);
}

/** Keeps what only looks like a phone number: a date (2026-11-30) or the digits of a document number (INV-2026-0001). */
function phoneReplacer(match: string, offset: number, whole: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(match)) return match;
  if (offset > 0 && /[A-Za-z-]/.test(whole[offset - 1])) return match;
  return ERASED_TEXT;
}

/** `patterns` (default on): also anything shaped like an email address or a phone number. */
export function scrubText(text: string, values: ReadonlyArray<string | null | undefined>, options: { patterns?: boolean } = {}): string {
  let out = options.patterns === false ? text : text.replace(EMAIL_LIKE, ERASED_TEXT).replace(PHONE_LIKE, phoneReplacer);
  for (const term of scrubTerms(values)) out = out.replace(new RegExp(escapeRegExp(term), 'gi'), ERASED_TEXT);
  return out;
}

/** The identifying values of a customer row, for scrubbing text that may repeat them. */
export function identifyingValues(row: { name?: string | null; email?: string | null; phone?: string | null; notes?: string | null; billing_address?: Record<string, unknown> | null }, taxId?: string | null): string[] {
  const address = row.billing_address ?? {};
  const parts = ['line1', 'line2', 'city', 'region', 'postalCode'].map((part) => address[part]).filter((part): part is string => typeof part === 'string');
  return [row.name, row.email, row.phone, taxId, ...parts].filter((value): value is string => typeof value === 'string' && value.trim() !== '');
}
