import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP) with the parameters every
 * authenticator app supports: HMAC-SHA1, 30-second steps, 6 digits. Plus base32 (RFC 4648),
 * which is how the shared secret travels in the QR code, and one-time recovery codes.
 */

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
// RFC 4226 recommends 160-bit secrets and requires at least 128 bits.
const SECRET_BYTES = 20;
const MIN_SECRET_BYTES = 16;
// Beyond a couple of steps either side, a "window" stops being clock-skew tolerance and
// starts multiplying an attacker's chance of guessing.
const MAX_WINDOW = 10;

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 20 random bytes as unpadded base32: what goes into the authenticator app. */
export function generateTotpSecret(): string {
  return base32Encode(randomBytes(SECRET_BYTES));
}

/** RFC 4648 base32, upper case, without `=` padding (authenticator apps do not need it). */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * Lenient about how people copy secrets (any case, spaces between groups, trailing `=`),
 * strict about content: any other character, or a length no encoder produces, throws.
 */
export function base32Decode(text: string): Buffer {
  if (typeof text !== 'string') throw new TypeError('base32 input must be a string');
  const clean = text.replace(/\s+/g, '').replace(/=+$/, '').toUpperCase();
  // 1, 3 or 6 leftover characters cannot hold a whole number of bytes.
  if ([1, 3, 6].includes(clean.length % 8)) throw new Error('Invalid base32 length');
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = BASE32_ALPHABET.indexOf(char);
    if (value === -1) throw new Error('Invalid base32 character');
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The RFC 6238 time step (counter) that `timeMs` falls in. */
export function totpStep(timeMs: number): number {
  if (!Number.isFinite(timeMs) || timeMs < 0) throw new RangeError('time must be a non-negative finite number of milliseconds');
  return Math.floor(timeMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code for the step containing `timeMs`. `digits` other than 6 exist for the RFC vectors. */
export function totpAt(secret: string, timeMs: number, digits = TOTP_DIGITS): string {
  return hotp(secretKey(secret), totpStep(timeMs), digits);
}

export interface VerifyTotpOptions {
  /** Steps accepted either side of the current one, for clock skew. Default 1 (±30 s). */
  window?: number;
  /** The step returned by the last successful verification for this secret, if any. */
  lastUsedStep?: number | null;
}

export type TotpVerification = { ok: true; step: number } | { ok: false };

/**
 * Checks a user-supplied code. On success, the caller must store the returned `step` and pass
 * it back as `lastUsedStep` next time: steps at or before it are refused, so a code that
 * was seen (over a shoulder, by a phishing proxy) cannot be replayed, not even within its
 * own 30 seconds, and neither can an older code still inside the window.
 *
 * A malformed `code` is a normal `{ ok: false }`; an unusable `secret` or option throws,
 * because that is a server-side bug rather than a wrong guess.
 */
export function verifyTotp(secret: string, code: string, timeMs: number, options: VerifyTotpOptions = {}): TotpVerification {
  const window = options.window ?? 1;
  if (!Number.isInteger(window) || window < 0 || window > MAX_WINDOW) throw new RangeError(`window must be an integer from 0 to ${MAX_WINDOW}`);
  const lastUsedStep = options.lastUsedStep ?? null;
  if (lastUsedStep !== null && !Number.isSafeInteger(lastUsedStep)) throw new RangeError('lastUsedStep must be an integer or null');
  const key = secretKey(secret);
  const current = totpStep(timeMs);
  if (typeof code !== 'string' || !/^[0-9]{6}$/.test(code)) return { ok: false };

  const given = Buffer.from(code, 'ascii');
  let matched: number | undefined;
  // Every candidate in the window is computed and compared, so the response time does not
  // reveal which step (if any) matched. The latest matching step wins: if a code happens to
  // match two steps, recording the later one keeps the earlier one from being replayed.
  for (let step = current - window; step <= current + window; step += 1) {
    if (step < 0 || (lastUsedStep !== null && step <= lastUsedStep)) continue;
    if (timingSafeEqual(Buffer.from(hotp(key, step, TOTP_DIGITS), 'ascii'), given)) matched = step;
  }
  return matched === undefined ? { ok: false } : { ok: true, step: matched };
}

export interface OtpauthUriInput {
  secret: string;
  accountName: string;
  issuer: string;
}

/**
 * The Key URI Format (the QR code content) read by Google Authenticator, 1Password, Authy
 * and others. Parameters are spelled out even where they equal the defaults, because some
 * apps do not assume them.
 */
export function otpauthUri({ secret, accountName, issuer }: OtpauthUriInput): string {
  // The label is `issuer:account`; a colon inside either would make it ambiguous.
  for (const [name, value] of [
    ['issuer', issuer],
    ['accountName', accountName],
  ] as const) {
    if (typeof value !== 'string' || value.trim() === '') throw new TypeError(`${name} must be a non-empty string`);
    if (value.includes(':')) throw new TypeError(`${name} must not contain ":"`);
  }
  // Round-tripping normalises the secret (case, spaces, padding) and rejects a bad one.
  const normalizedSecret = base32Encode(secretKey(secret));
  // encodeURIComponent, not URLSearchParams: the format wants spaces as %20, not "+".
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(accountName)}`;
  const query = [
    `secret=${normalizedSecret}`,
    `issuer=${encodeURIComponent(issuer)}`,
    'algorithm=SHA1',
    `digits=${TOTP_DIGITS}`,
    `period=${TOTP_PERIOD_SECONDS}`,
  ].join('&');
  return `otpauth://totp/${label}?${query}`;
}

// No 0/o, 1/l/i: recovery codes get read off paper and typed in by hand.
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const RECOVERY_LENGTH = 10;

/**
 * One-time recovery codes, `xxxxx-xxxxx`, ~49 bits each (31^10). Store only their hashes,
 * computed over `normalizeRecoveryCode(code)`, and delete each one when it is used.
 */
export function generateRecoveryCodes(count = 10): string[] {
  if (!Number.isInteger(count) || count < 1 || count > 100) throw new RangeError('count must be an integer from 1 to 100');
  const codes = new Set<string>();
  while (codes.size < count) {
    let raw = '';
    // randomInt is uniform; indexing with a random byte modulo 31 would be biased.
    for (let i = 0; i < RECOVERY_LENGTH; i += 1) raw += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
    codes.add(`${raw.slice(0, 5)}-${raw.slice(5)}`);
  }
  return [...codes];
}

/**
 * What a typed recovery code is compared (or hashed) as: lower case, without spaces or
 * dashes, including the en and em dashes that word processors substitute.
 */
export function normalizeRecoveryCode(input: string): string {
  return input.toLowerCase().replace(/[\s\p{Pd}]+/gu, '');
}

function secretKey(secret: string): Buffer {
  const key = base32Decode(secret);
  if (key.length < MIN_SECRET_BYTES) throw new RangeError(`TOTP secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return key;
}

// RFC 4226 section 5.3: HMAC over the 8-byte big-endian counter, dynamic truncation.
function hotp(key: Buffer, counter: number, digits: number): string {
  if (!Number.isInteger(digits) || digits < 6 || digits > 8) throw new RangeError('digits must be 6, 7 or 8');
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}
