import { randomBytes } from 'node:crypto';
import {
  TOTP_PERIOD_SECONDS,
  base32Decode,
  base32Encode,
  generateRecoveryCodes,
  generateTotpSecret,
  normalizeRecoveryCode,
  otpauthUri,
  totpAt,
  totpStep,
  verifyTotp,
} from './totp.js';

// The RFC 4226 / RFC 6238 test secret: ASCII "12345678901234567890".
const RFC_SECRET = base32Encode(Buffer.from('12345678901234567890', 'ascii'));
const STEP_MS = TOTP_PERIOD_SECONDS * 1000;
// An arbitrary instant well inside a step, so ±1 step stays clear of step boundaries.
const NOW = 1_767_225_615_000;
const NOW_STEP = Math.floor(NOW / STEP_MS);

// Fixed (not generated) secrets keep the window tests deterministic: with a random secret,
// two steps in a window share a code about once in a million runs.
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const OTHER_SECRET = 'KRUGKIDROVUWG2ZAMJZG653OEBTG66BA';

const codeAtStep = (secret: string, step: number): string => totpAt(secret, step * STEP_MS);

describe('base32 (RFC 4648)', () => {
  it.each([
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ])('encodes %j as %j (unpadded) and decodes it back', (plain, encoded) => {
    expect(base32Encode(Buffer.from(plain, 'ascii'))).toBe(encoded);
    expect(base32Decode(encoded).toString('ascii')).toBe(plain);
  });

  it.each([
    ['MY======', 'f'],
    ['MZXQ====', 'fo'],
    ['MZXW6===', 'foo'],
    ['MZXW6YQ=', 'foob'],
    ['MZXW6YTBOI======', 'foobar'],
  ])('decodes the padded form %j', (encoded, plain) => {
    expect(base32Decode(encoded).toString('ascii')).toBe(plain);
  });

  it('decodes lower case, mixed case, spaces and tabs the way people copy secrets', () => {
    expect(base32Decode('mzxw6ytboi').toString('ascii')).toBe('foobar');
    expect(base32Decode('MzXw 6yTb Oi').toString('ascii')).toBe('foobar');
    expect(base32Decode(' GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ \t\n').toString('ascii')).toBe('12345678901234567890');
  });

  it.each(['MZXW0', 'MZXW1', 'MZXW8', 'MZXW9', 'MZXW!', 'MZXWé', 'MZ=XW6', 'MZXW-6YTB', 'MZXW_6YTB'])('throws on the invalid character in %j', (text) => {
    expect(() => base32Decode(text)).toThrow(/Invalid base32/);
  });

  it.each(['M', 'MZX', 'MZXW6Y', 'MZXW6YTBO'])('throws on %j, a length no encoder produces', (text) => {
    expect(() => base32Decode(text)).toThrow(/Invalid base32 length/);
  });

  it('round-trips random bytes of every length from 0 to 64', () => {
    for (let length = 0; length <= 64; length += 1) {
      const bytes = randomBytes(length);
      const encoded = base32Encode(bytes);
      expect(encoded).toMatch(/^[A-Z2-7]*$/);
      expect(encoded).toHaveLength(Math.ceil((length * 8) / 5));
      expect(base32Decode(encoded).equals(bytes)).toBe(true);
    }
  });

  it('encodes the RFC 6238 secret as the well-known string', () => {
    expect(RFC_SECRET).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  });
});

describe('generateTotpSecret', () => {
  it('returns 20 random bytes as 32 unpadded base32 characters', () => {
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(secret)).toHaveLength(20);
  });

  it('returns a different secret every time', () => {
    const secrets = Array.from({ length: 200 }, generateTotpSecret);
    expect(new Set(secrets).size).toBe(200);
  });
});

describe('totpAt', () => {
  // RFC 6238 Appendix B, SHA1 column (8 digits).
  it.each([
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ])('matches the RFC 6238 vector at T=%i s', (seconds, code) => {
    expect(totpAt(RFC_SECRET, seconds * 1000, 8)).toBe(code);
  });

  // RFC 4226 Appendix D: HOTP counters 0-9 are TOTP steps 0-9.
  it.each([
    [0, '755224'],
    [1, '287082'],
    [2, '359152'],
    [3, '969429'],
    [4, '338314'],
    [5, '254676'],
    [6, '287922'],
    [7, '162583'],
    [8, '399871'],
    [9, '520489'],
  ])('matches the RFC 4226 HOTP vector for counter %i with 6 digits', (counter, code) => {
    expect(totpAt(RFC_SECRET, counter * STEP_MS)).toBe(code);
  });

  it('is constant within a 30-second step and changes at its boundary', () => {
    const start = NOW_STEP * STEP_MS;
    expect(totpAt(RFC_SECRET, start)).toBe(totpAt(RFC_SECRET, start + STEP_MS - 1));
    expect(totpStep(start + STEP_MS - 1)).toBe(NOW_STEP);
    expect(totpStep(start + STEP_MS)).toBe(NOW_STEP + 1);
  });

  it('keeps leading zeros', () => {
    expect(totpAt(RFC_SECRET, 1111111109 * 1000, 8)).toHaveLength(8);
    for (let step = 0; step < 200; step += 1) expect(codeAtStep(RFC_SECRET, step)).toMatch(/^[0-9]{6}$/);
  });

  it('accepts the secret in any case and with spaces', () => {
    expect(totpAt(RFC_SECRET.toLowerCase().replace(/(.{4})/g, '$1 '), 59_000, 8)).toBe('94287082');
  });

  it('refuses a secret shorter than 128 bits, an invalid secret, bad digits and bad times', () => {
    expect(() => totpAt(base32Encode(randomBytes(15)), NOW)).toThrow(/at least 16 bytes/);
    expect(() => totpAt('', NOW)).toThrow(/at least 16 bytes/);
    expect(() => totpAt('NOT-BASE32!', NOW)).toThrow(/Invalid base32/);
    for (const digits of [5, 9, 6.5]) expect(() => totpAt(RFC_SECRET, NOW, digits)).toThrow(RangeError);
    for (const time of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => totpAt(RFC_SECRET, time)).toThrow(RangeError);
  });
});

describe('verifyTotp: window', () => {
  const secret = SECRET;

  it('has fixtures whose codes differ across the steps these tests use', () => {
    const codes = [-3, -2, -1, 0, 1, 2, 3].map((offset) => codeAtStep(secret, NOW_STEP + offset));
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('accepts the current code and returns its step', () => {
    expect(verifyTotp(secret, totpAt(secret, NOW), NOW, {})).toEqual({ ok: true, step: NOW_STEP });
  });

  it('uses a window of 1 by default and works without options', () => {
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP - 1), NOW)).toEqual({ ok: true, step: NOW_STEP - 1 });
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP + 1), NOW)).toEqual({ ok: true, step: NOW_STEP + 1 });
  });

  it('refuses codes two steps away with the default window', () => {
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP - 2), NOW, {})).toEqual({ ok: false });
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP + 2), NOW, {})).toEqual({ ok: false });
  });

  it('accepts only the current step with window 0', () => {
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP), NOW, { window: 0 })).toEqual({ ok: true, step: NOW_STEP });
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP - 1), NOW, { window: 0 })).toEqual({ ok: false });
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP + 1), NOW, { window: 0 })).toEqual({ ok: false });
  });

  it('accepts t-2..t+2 with window 2 and nothing further', () => {
    for (let offset = -2; offset <= 2; offset += 1) {
      expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP + offset), NOW, { window: 2 })).toEqual({ ok: true, step: NOW_STEP + offset });
    }
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP - 3), NOW, { window: 2 })).toEqual({ ok: false });
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP + 3), NOW, { window: 2 })).toEqual({ ok: false });
  });

  it('judges the window by step, not by seconds: the first and last millisecond of a step behave alike', () => {
    const previous = codeAtStep(secret, NOW_STEP - 1);
    expect(verifyTotp(secret, previous, NOW_STEP * STEP_MS).ok).toBe(true);
    expect(verifyTotp(secret, previous, (NOW_STEP + 1) * STEP_MS - 1).ok).toBe(true);
    expect(verifyTotp(secret, previous, (NOW_STEP + 1) * STEP_MS).ok).toBe(false);
  });

  it('refuses the current code of another secret', () => {
    const window = [-1, 0, 1].map((offset) => codeAtStep(secret, NOW_STEP + offset));
    const foreign = totpAt(OTHER_SECRET, NOW);
    expect(window).not.toContain(foreign);
    expect(verifyTotp(secret, foreign, NOW, {})).toEqual({ ok: false });
  });

  it('refuses wrong codes, including the all-zero and off-by-one ones', () => {
    const right = totpAt(secret, NOW);
    const window = [-1, 0, 1].map((offset) => codeAtStep(secret, NOW_STEP + offset));
    const wrong = ['000000', '999999', '123456', String((Number(right) + 1) % 1_000_000).padStart(6, '0')];
    for (const code of wrong) {
      expect(window).not.toContain(code);
      expect(verifyTotp(secret, code, NOW, {})).toEqual({ ok: false });
    }
  });

  it('does not look at negative steps near the epoch', () => {
    expect(verifyTotp(RFC_SECRET, '755224', 0, { window: 1 })).toEqual({ ok: true, step: 0 });
    expect(verifyTotp(RFC_SECRET, '287082', 0, { window: 1 })).toEqual({ ok: true, step: 1 });
  });

  it('throws for an out-of-range window, an invalid lastUsedStep or an unusable secret', () => {
    const code = totpAt(secret, NOW);
    for (const window of [-1, 11, 1.5, Number.NaN]) expect(() => verifyTotp(secret, code, NOW, { window })).toThrow(RangeError);
    for (const lastUsedStep of [1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => verifyTotp(secret, code, NOW, { lastUsedStep })).toThrow(RangeError);
    expect(() => verifyTotp('short', code, NOW, {})).toThrow();
    expect(() => verifyTotp('', '123456', NOW, {})).toThrow(/at least 16 bytes/);
  });
});

describe('verifyTotp: replay protection', () => {
  const secret = SECRET;

  it('refuses the same code a second time within its window', () => {
    const code = totpAt(secret, NOW);
    const first = verifyTotp(secret, code, NOW, { lastUsedStep: null });
    expect(first).toEqual({ ok: true, step: NOW_STEP });
    if (!first.ok) return;
    expect(verifyTotp(secret, code, NOW, { lastUsedStep: first.step })).toEqual({ ok: false });
    expect(verifyTotp(secret, code, NOW + 10_000, { lastUsedStep: first.step })).toEqual({ ok: false });
    expect(verifyTotp(secret, code, NOW + STEP_MS, { lastUsedStep: first.step })).toEqual({ ok: false });
  });

  it('refuses an older code still inside the window once a newer one was used', () => {
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP - 1), NOW, { lastUsedStep: NOW_STEP })).toEqual({ ok: false });
  });

  it('refuses a code for the step just used even when it came from a later clock', () => {
    // Used at t+1 (fast phone clock); the current code (step t) must not work afterwards.
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP), NOW, { lastUsedStep: NOW_STEP + 1 })).toEqual({ ok: false });
  });

  it('accepts the next step after one was used', () => {
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP + 1), NOW, { lastUsedStep: NOW_STEP })).toEqual({ ok: true, step: NOW_STEP + 1 });
    expect(verifyTotp(secret, codeAtStep(secret, NOW_STEP), NOW + STEP_MS, { lastUsedStep: NOW_STEP - 1 })).toEqual({ ok: true, step: NOW_STEP });
  });

  it('treats undefined and null lastUsedStep as "never used", and allows step 0 after -1', () => {
    const code = totpAt(secret, NOW);
    expect(verifyTotp(secret, code, NOW, { lastUsedStep: undefined }).ok).toBe(true);
    expect(verifyTotp(RFC_SECRET, '755224', 0, { lastUsedStep: -1 })).toEqual({ ok: true, step: 0 });
    expect(verifyTotp(RFC_SECRET, '755224', 0, { lastUsedStep: 0 })).toEqual({ ok: false });
  });

  it('returns the later step when a code matches two steps in the window, so it cannot be replayed', () => {
    // With the RFC secret, steps 153567 and 153569 share the code 468457 (found by search).
    expect(codeAtStep(RFC_SECRET, 153_567)).toBe('468457');
    expect(codeAtStep(RFC_SECRET, 153_569)).toBe('468457');
    const now = 153_568 * STEP_MS + 1_000;
    const first = verifyTotp(RFC_SECRET, '468457', now, {});
    expect(first).toEqual({ ok: true, step: 153_569 });
    expect(verifyTotp(RFC_SECRET, '468457', now, { lastUsedStep: 153_569 })).toEqual({ ok: false });
    // And steps 910737 and 910738 share 911617: still the later one.
    expect(verifyTotp(RFC_SECRET, '911617', 910_738 * STEP_MS, {})).toEqual({ ok: true, step: 910_738 });
  });
});

describe('verifyTotp: malformed codes', () => {
  const secret = SECRET;
  const code = totpAt(secret, NOW);

  it.each([
    ['empty', ''],
    ['five digits', code.slice(0, 5)],
    ['seven digits', `${code}0`],
    ['eight-digit code for this step', totpAt(secret, NOW, 8)],
    ['leading space', ` ${code}`],
    ['trailing space', `${code} `],
    ['trailing newline', `${code}\n`],
    ['space in the middle', `${code.slice(0, 3)} ${code.slice(3)}`],
    ['dash in the middle', `${code.slice(0, 3)}-${code.slice(3)}`],
    ['a letter', `${code.slice(0, 5)}a`],
    ['a sign', `+${code.slice(1)}`],
    ['Arabic-Indic digits', code.replace(/[0-9]/g, (digit) => String.fromCharCode(0x0660 + Number(digit)))],
    ['full-width digits', code.replace(/[0-9]/g, (digit) => String.fromCharCode(0xff10 + Number(digit)))],
  ])('refuses %s', (_name, input) => {
    expect(verifyTotp(secret, input, NOW, {})).toEqual({ ok: false });
  });

  it.each([Number(code), null, undefined, [code], { code }])('refuses the non-string %p without throwing', (input) => {
    expect(verifyTotp(secret, input as unknown as string, NOW, {})).toEqual({ ok: false });
  });
});

describe('otpauthUri', () => {
  it('builds the key URI with every parameter spelled out', () => {
    expect(otpauthUri({ secret: RFC_SECRET, accountName: 'ana@example.com', issuer: 'Ledgerline' })).toBe(
      'otpauth://totp/Ledgerline:ana%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Ledgerline&algorithm=SHA1&digits=6&period=30',
    );
  });

  it('percent-encodes the label and issuer (spaces as %20, never "+")', () => {
    const uri = otpauthUri({ secret: RFC_SECRET, accountName: 'ana+billing@example.com', issuer: 'Ledgerline Test & Co' });
    expect(uri).toContain('otpauth://totp/Ledgerline%20Test%20%26%20Co:ana%2Bbilling%40example.com?');
    expect(uri).toContain('&issuer=Ledgerline%20Test%20%26%20Co&');
    expect(uri).not.toContain('+');
    const url = new URL(uri);
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(decodeURIComponent(url.pathname.slice(1))).toBe('Ledgerline Test & Co:ana+billing@example.com');
    expect(url.searchParams.get('issuer')).toBe('Ledgerline Test & Co');
    expect(url.searchParams.get('secret')).toBe(RFC_SECRET);
  });

  it('encodes non-ASCII names as UTF-8', () => {
    const uri = otpauthUri({ secret: RFC_SECRET, accountName: 'jürgen@bäckerei.de', issuer: 'Ledgerline' });
    expect(uri).toContain('Ledgerline:j%C3%BCrgen%40b%C3%A4ckerei.de?');
  });

  it('normalises the secret to unpadded upper-case base32', () => {
    const uri = otpauthUri({ secret: 'gezd gnbv gy3t qojq gezd gnbv gy3t qojq', accountName: 'ana@example.com', issuer: 'Ledgerline' });
    expect(new URL(uri).searchParams.get('secret')).toBe(RFC_SECRET);
  });

  it('round-trips with generateTotpSecret and totpAt', () => {
    const secret = generateTotpSecret();
    const fromUri = new URL(otpauthUri({ secret, accountName: 'ana@example.com', issuer: 'Ledgerline' })).searchParams.get('secret') ?? '';
    expect(totpAt(fromUri, NOW)).toBe(totpAt(secret, NOW));
  });

  it('refuses a colon in the issuer or account name, empty values and a bad secret', () => {
    const base = { secret: RFC_SECRET, accountName: 'ana@example.com', issuer: 'Ledgerline' };
    expect(() => otpauthUri({ ...base, issuer: 'Ledger:line' })).toThrow(/must not contain/);
    expect(() => otpauthUri({ ...base, accountName: 'ana:admin@example.com' })).toThrow(/must not contain/);
    expect(() => otpauthUri({ ...base, issuer: '' })).toThrow(/non-empty/);
    expect(() => otpauthUri({ ...base, accountName: '  ' })).toThrow(/non-empty/);
    expect(() => otpauthUri({ ...base, secret: 'not base32!' })).toThrow(/Invalid base32/);
    expect(() => otpauthUri({ ...base, secret: 'JBSWY3DPEHPK3PXP' })).toThrow(/at least 16 bytes/);
  });
});

describe('recovery codes', () => {
  const FORMAT = /^[a-hjkmnp-z2-9]{5}-[a-hjkmnp-z2-9]{5}$/;

  it('generates 10 codes by default, formatted xxxxx-xxxxx', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(FORMAT);
  });

  it('generates the requested number, all unique within a batch', () => {
    for (const count of [1, 5, 16, 100]) {
      const codes = generateRecoveryCodes(count);
      expect(codes).toHaveLength(count);
      expect(new Set(codes).size).toBe(count);
    }
  });

  it('does not repeat codes across many batches', () => {
    const all = Array.from({ length: 1_000 }, () => generateRecoveryCodes()).flat();
    expect(new Set(all).size).toBe(all.length);
  });

  it('never uses the ambiguous characters 0, o, 1, l or i, and uses every other one', () => {
    const characters = new Set(generateRecoveryCodes(100).join('').replace(/-/g, ''));
    for (const ambiguous of '0o1li') expect(characters.has(ambiguous)).toBe(false);
    expect([...characters].sort().join('')).toBe('23456789abcdefghjkmnpqrstuvwxyz');
  });

  it.each([0, -1, 101, 2.5, Number.NaN])('refuses the count %p', (count) => {
    expect(() => generateRecoveryCodes(count)).toThrow(RangeError);
  });

  it.each([
    ['abcde-fghjk', 'abcdefghjk'],
    ['ABCDE-FGHJK', 'abcdefghjk'],
    ['abcdefghjk', 'abcdefghjk'],
    ['  abcde fghjk  ', 'abcdefghjk'],
    ['ab cd-ef gh-jk', 'abcdefghjk'],
    ['abcde\u2013fghjk', 'abcdefghjk'], // en dash, as word processors "correct" it
    ['abcde\u2014fghjk', 'abcdefghjk'], // em dash
    ['abcde\u00a0fghjk', 'abcdefghjk'], // no-break space
    ['abcde\tfghjk\n', 'abcdefghjk'],
  ])('normalises %j to %j', (input, expected) => {
    expect(normalizeRecoveryCode(input)).toBe(expected);
  });

  it('maps every generated code and its typed variants to one normal form', () => {
    for (const code of generateRecoveryCodes(20)) {
      const normal = normalizeRecoveryCode(code);
      expect(normal).toMatch(/^[a-hjkmnp-z2-9]{10}$/);
      expect(normalizeRecoveryCode(code.toUpperCase())).toBe(normal);
      expect(normalizeRecoveryCode(code.replace('-', ' '))).toBe(normal);
      expect(normalizeRecoveryCode(code.replace('-', ''))).toBe(normal);
    }
  });

  it('does not strip other characters, so a wrong code stays wrong', () => {
    expect(normalizeRecoveryCode('abcde_fghjk')).toBe('abcde_fghjk');
    expect(normalizeRecoveryCode('abcde.fghjk')).toBe('abcde.fghjk');
  });
});
