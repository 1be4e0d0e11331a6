import { readFileSync } from 'node:fs';

/**
 * The password rules, NIST SP 800-63B style: a length floor, a list of known-common
 * passwords and nothing derived from the account itself, but no composition rules
 * ("one upper case, one symbol") and no expiry, which only push people towards
 * predictable patterns. Spaces and any Unicode are allowed, so passphrases work.
 */

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 128;
// bcrypt silently ignores everything after the 72nd byte; refusing longer input is better than
// letting two different passwords with the same first 72 bytes both work.
export const MAX_PASSWORD_BYTES = 72;
// Shorter local parts and names ("ana", "li") are too likely to occur by chance.
const MIN_PERSONAL_TOKEN_LENGTH = 4;

export type PasswordCheck = { ok: true } | { ok: false; code: PasswordProblem; message: string };

export type PasswordProblem =
  | 'password_too_short'
  | 'password_too_long'
  | 'password_too_many_bytes'
  | 'password_common'
  | 'password_contains_email'
  | 'password_contains_name';

export interface PasswordContext {
  email?: string;
  name?: string;
}

/**
 * Returns the first rule the password breaks, checked in the order below, with a message
 * that can be shown to the user as is (it never repeats the password). Length is counted
 * in Unicode code points, so an emoji counts as one character, not two.
 */
export function checkPassword(password: string, context: PasswordContext = {}): PasswordCheck {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) {
    return fail('password_too_short', `Use at least ${MIN_PASSWORD_LENGTH} characters. A few unrelated words make a strong, memorable passphrase.`);
  }
  if (length > MAX_PASSWORD_LENGTH) {
    return fail('password_too_long', `Use at most ${MAX_PASSWORD_LENGTH} characters.`);
  }
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    return fail(
      'password_too_many_bytes',
      `Use at most ${MAX_PASSWORD_BYTES} bytes: passwords are stored with bcrypt, which only reads the first ${MAX_PASSWORD_BYTES} bytes. Accented letters take 2 bytes and most emoji 4.`,
    );
  }
  if (isCommonPassword(password)) {
    return fail('password_common', 'This password is too common and is among the first that attackers try. Choose something less predictable.');
  }
  const lower = password.toLowerCase();
  const local = emailLocalPart(context.email);
  if (local && lower.includes(local)) {
    return fail('password_contains_email', 'The password must not contain your email address.');
  }
  if (nameParts(context.name).some((part) => lower.includes(part))) {
    return fail('password_contains_name', 'The password must not contain your name.');
  }
  return { ok: true };
}

/** Whether the password is on the bundled list, ignoring case and surrounding whitespace. */
export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(password.trim().toLowerCase());
}

/**
 * Loads the list now rather than on the first signup, and returns its size. Call it at
 * startup so a build that forgot to copy the list fails there and then.
 */
export function loadCommonPasswords(): number {
  return commonPasswords().size;
}

let common: ReadonlySet<string> | undefined;

function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(
    readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .map((line) => line.trim().toLowerCase())
      .filter((line) => line.length > 0),
  );
  return common;
}

function emailLocalPart(email: string | undefined): string | undefined {
  if (!email) return undefined;
  const trimmed = email.trim();
  // The last "@": a quoted local part may itself contain one.
  const at = trimmed.lastIndexOf('@');
  const local = (at === -1 ? trimmed : trimmed.slice(0, at)).toLowerCase();
  return [...local].length >= MIN_PERSONAL_TOKEN_LENGTH ? local : undefined;
}

function nameParts(name: string | undefined): string[] {
  if (!name) return [];
  return name
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((part) => [...part].length >= MIN_PERSONAL_TOKEN_LENGTH);
}

function fail(code: PasswordProblem, message: string): PasswordCheck {
  return { ok: false, code, message };
}
