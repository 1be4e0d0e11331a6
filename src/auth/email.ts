/** Emails are compared and stored canonically: NFKC, trimmed, lower-case. */
export function canonicalEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}
