/**
 * What a viewer sees of a customer's contact details. Pure functions, so the rules are unit
 * tested in one place; the service applies them to every view built for the viewer role.
 */

const MASK = '***';

/**
 * `jane.doe@example.com` → `j***@example.com`: the first character of the local part (a whole
 * code point, so an emoji or accented letter is not cut in half), `***`, then `@` and the domain
 * as stored. The local part's length is not revealed. A value without a usable `@` (never
 * stored: emails are validated on the way in) becomes `***` alone.
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return MASK;
  const [first] = Array.from(email.slice(0, at));
  return `${first}${MASK}@${email.slice(at + 1)}`;
}

/**
 * `+31 6 1234 5634` → `*** *** **34`: a fixed mask followed by the last 2 digits of the number.
 * The mask has the same shape whatever the input, so neither the length of the number, its
 * grouping nor its country code leaks; only the last two digits are shown. A phone with fewer
 * than 4 digits would be half given away by its last two, so it becomes `*** *** ****` with no
 * digit shown.
 */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  if (digits.length < 4) return `${MASK} ${MASK} ****`;
  return `${MASK} ${MASK} **${digits.slice(-2)}`;
}
