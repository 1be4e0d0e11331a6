/**
 * Detects payment card numbers (PANs) in free text such as invoice notes, line descriptions and
 * customer messages, so they can be refused before they are stored: holding a PAN would put the
 * whole database in PCI DSS scope. A guard against accidents, not against someone set on evasion.
 *
 * A candidate is a run of digits in which single spaces or dashes may separate groups. The
 * separators are how people type cards ("4242 4242 4242 4242", "4000-0566-5566-5556"), so a
 * card is searched for as a whole number of consecutive groups (13 to 19 digits, Luhn-valid):
 * a card followed by a quantity ("4242 4242 4242 4242 2 items") is still found, while one long
 * unbroken run (20+ digits, a reference number) is never split into a "card".
 */

const MIN_PAN = 13;
const MAX_PAN = 19;

// Identifiers whose digit groups have the shape of a card: blanked before the scan.
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
// Country code, check digits, then 11 to 30 alphanumerics, grouped by four or not.
// Upper case only, as printed: a case-insensitive pattern would also eat "ab12 4242 4242 …".
const IBAN = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g;
// Maximal runs of digits joined by single spaces or dashes.
const DIGIT_RUN = /\d+(?:[ -]\d+)*/g;
const ALNUM = /[A-Za-z0-9_]/;
const JOINER = /[-_/]/;

/** The Luhn (mod 10) check. Only non-empty all-digit strings can pass. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i -= 1) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

export function containsCardNumber(text: string): boolean {
  if (typeof text !== 'string' || text.length < MIN_PAN) return false;
  const scanned = text.replace(UUID, ' ').replace(IBAN, ' ');
  for (const match of scanned.matchAll(DIGIT_RUN)) {
    const start = match.index;
    const end = start + match[0].length;
    // A run that is part of a word or code ("INV-2025-…", "abc4242…", "…8abc") is an identifier.
    if (isGlued(scanned, start - 1, -1) || isGlued(scanned, end, 1)) continue;
    if (hasCardWindow(match[0].split(/[ -]/))) return true;
  }
  return false;
}

/** True when the character at `at` is a letter, or a -, _ or / joining the run to one. */
function isGlued(text: string, at: number, step: 1 | -1): boolean {
  const char = text[at];
  if (char === undefined) return false;
  if (ALNUM.test(char)) return true;
  const next = text[at + step];
  return JOINER.test(char) && next !== undefined && ALNUM.test(next);
}

/**
 * Any run of consecutive groups with 13 to 19 digits in all that is Luhn-valid. Cards are
 * grouped 4-4-4-4, 4-6-5, 4-6-4 or 4-4-4-1, so in a window of several groups every group but
 * the last has 3 to 6 digits: lists of small numbers ("1 2 3 … 13") would otherwise pass Luhn
 * one time in ten.
 */
function hasCardWindow(groups: string[]): boolean {
  for (let first = 0; first < groups.length; first += 1) {
    // Issued PANs never start with 0 (major industry identifier 0 is not assigned to cards);
    // skipping them keeps "0044 20 7946 0958"-style phone numbers out.
    if (groups[first][0] === '0') continue;
    let digits = '';
    for (let last = first; last < groups.length; last += 1) {
      // Groups before the last are 3 to 6 digits; the last may be short (4-4-4-1 for 13 digits).
      if (last > first && (!isCardGroup(groups[last - 1]) || groups[last].length > 6)) break;
      digits += groups[last];
      if (digits.length > MAX_PAN) break;
      if (digits.length >= MIN_PAN && luhnValid(digits)) return true;
    }
  }
  return false;
}

function isCardGroup(group: string): boolean {
  return group.length >= 3 && group.length <= 6;
}
