import { readFileSync } from 'node:fs';
import { MAX_PASSWORD_BYTES, checkPassword, isCommonPassword, loadCommonPasswords, type PasswordCheck } from './password-policy.js';

// Not on the list and free of repetition, so slices of it only ever trip the rule under test.
const FILLER = 'Vk7#mQ2!pLx9wR4$zN8@tB3%hJ6^cF5&yD1*gS0(uE2)oA9_iW4+rT7=nM3;bX6:';
const ascii = (length: number): string => FILLER.repeat(Math.ceil(length / FILLER.length)).slice(0, length);

const LIST: string[] = readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8').split('\n').slice(0, -1);

function expectProblem(result: PasswordCheck, code: string): void {
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.code).toBe(code);
}

describe('checkPassword: length in characters', () => {
  it('refuses 11 characters and accepts 12', () => {
    expectProblem(checkPassword(ascii(11)), 'password_too_short');
    expect(checkPassword(ascii(12))).toEqual({ ok: true });
  });

  it('refuses the empty string', () => {
    expectProblem(checkPassword(''), 'password_too_short');
  });

  it('counts code points, so 12 emoji (24 UTF-16 units) are 12 characters and 11 are too few', () => {
    expect('🔐'.repeat(11)).toHaveLength(22);
    expectProblem(checkPassword('🔐'.repeat(11)), 'password_too_short');
    expect(checkPassword('🔐'.repeat(12))).toEqual({ ok: true });
    expectProblem(checkPassword('ab🔐🔐🔐🔐🔐🔐🔐🔐🔐'), 'password_too_short');
  });

  it('counts spaces: they are allowed and count like any character', () => {
    expectProblem(checkPassword('  kettle   '), 'password_too_short');
    expect(checkPassword('kettle moon ')).toEqual({ ok: true });
  });

  it('refuses 129 characters as too long', () => {
    expectProblem(checkPassword(ascii(129)), 'password_too_long');
    expectProblem(checkPassword('é'.repeat(129)), 'password_too_long');
    expectProblem(checkPassword('x'.repeat(10_000)), 'password_too_long');
  });

  it('lets 128 characters pass the length rule (they then exceed the 72-byte rule)', () => {
    // No string of 73 or more characters fits in 72 bytes, so 128 is never accepted; the
    // 128 limit only decides which message a very long paste gets.
    expectProblem(checkPassword(ascii(128)), 'password_too_many_bytes');
    expectProblem(checkPassword('é'.repeat(128)), 'password_too_many_bytes');
  });

  it('returns a message stating the limit for the length rules', () => {
    const short = checkPassword(ascii(11));
    const long = checkPassword(ascii(129));
    expect(!short.ok && short.message).toContain('12');
    expect(!long.ok && long.message).toContain('128');
  });
});

describe('checkPassword: length in bytes (bcrypt reads only 72)', () => {
  it('accepts 72 ASCII bytes and refuses 73', () => {
    expect(checkPassword(ascii(72))).toEqual({ ok: true });
    expectProblem(checkPassword(ascii(73)), 'password_too_many_bytes');
  });

  it("accepts 36 × 'é' (36 characters, 72 bytes) and refuses one more byte", () => {
    const at = 'é'.repeat(36);
    expect(Buffer.byteLength(at)).toBe(72);
    expect(checkPassword(at)).toEqual({ ok: true });
    expect(Buffer.byteLength(`${at}a`)).toBe(73);
    expectProblem(checkPassword(`${at}a`), 'password_too_many_bytes');
    expectProblem(checkPassword('é'.repeat(37)), 'password_too_many_bytes');
  });

  it('accepts 18 four-byte emoji (72 bytes) and refuses 73 bytes', () => {
    const at = '🧾'.repeat(18);
    expect(Buffer.byteLength(at)).toBe(72);
    expect(checkPassword(at)).toEqual({ ok: true });
    expectProblem(checkPassword(`${at}x`), 'password_too_many_bytes');
    // 19 emoji: only 19 characters, but 76 bytes.
    expectProblem(checkPassword('🧾'.repeat(19)), 'password_too_many_bytes');
  });

  it('accepts three-byte CJK up to 24 characters and refuses 25', () => {
    const cjk = '東京大阪名古屋札幌福岡神戸京都横浜仙台広島千葉埼玉静岡熊本岡山金沢奈良';
    expect(checkPassword([...cjk].slice(0, 24).join(''))).toEqual({ ok: true });
    expectProblem(checkPassword([...cjk].slice(0, 25).join('')), 'password_too_many_bytes');
  });

  it('says why in the message: bcrypt only reads 72 bytes', () => {
    const result = checkPassword('é'.repeat(40));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(/bcrypt/);
      expect(result.message).toMatch(/72 bytes/);
    }
    expect(MAX_PASSWORD_BYTES).toBe(72);
  });
});

describe('checkPassword: common passwords', () => {
  it.each([
    'password1234',
    'PASSWORD1234',
    'Password1234',
    'pAsSwOrD1234',
    '  password1234  ',
    '\tPassword1234\n',
    'passwordpassword',
    'QwertyuiopASDF',
    '123456789012',
    '1qaz2wsx3edc',
    'iloveyou2024',
    'ILoveYouForever',
    'Summer2024!!',
    'September2024',
    'Football2024!',
    'Monkey123456',
    'Dragon2025!!',
    'Letmein12345',
    'Welcome2024!',
    'Admin1234567',
    'Changeme2026',
    'Jennifer1990',
    'P@ssw0rd1234',
    'CorrectHorseBatteryStaple',
    'Ledgerline2025',
  ])('refuses %j', (password) => {
    const result = checkPassword(password);
    expectProblem(result, 'password_common');
    if (!result.ok) expect(result.message).not.toContain(password.trim());
  });

  it('trims only the ends: inner spaces make a different password', () => {
    expect(isCommonPassword(' password1234 ')).toBe(true);
    expect(isCommonPassword('password 1234')).toBe(false);
  });

  it('checks length before the list, so a short common password is "too short"', () => {
    expectProblem(checkPassword('password'), 'password_too_short');
    expectProblem(checkPassword('qwerty123'), 'password_too_short');
  });

  it('refuses every entry of the bundled list, in lower and upper case', () => {
    // Collected and asserted once: thousands of expect() calls would dominate the run time.
    const accepted = LIST.filter((entry) => Buffer.byteLength(entry) <= 72).flatMap((entry) =>
      [entry, entry.toUpperCase()].filter((variant) => {
        const result = checkPassword(variant);
        return result.ok || result.code !== 'password_common';
      }),
    );
    expect(accepted).toEqual([]);
  });
});

describe('common-passwords.txt', () => {
  it('holds at least 1,000 entries and loads them all', () => {
    expect(LIST.length).toBeGreaterThanOrEqual(1_000);
    expect(loadCommonPasswords()).toBe(LIST.length);
  });

  it('has one lower-case, trimmed, 12+ character entry per line, without duplicates', () => {
    expect(new Set(LIST).size).toBe(LIST.length);
    const offending = LIST.filter((entry) => entry !== entry.trim() || entry !== entry.toLowerCase() || [...entry].length < 12);
    expect(offending).toEqual([]);
  });

  it('ends with a single newline and uses Unix line endings', () => {
    const text = readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.endsWith('\n\n')).toBe(false);
    expect(text).not.toContain('\r');
  });

  it('covers the families of weak passwords it is meant to', () => {
    const entries = new Set(LIST);
    for (const entry of ['qwertyuiopasdf', 'passwordpassword', '123456789012', 'iloveyou1234', 'summer2024!!', 'password123!', 'football1990', 'baseball2030!', 'monkey123456', 'dragon2000!!', 'letmein12345', 'welcome2024!', 'admin1234567', 'changeme2024', 'michael12345']) {
      expect(entries.has(entry)).toBe(true);
    }
  });
});

describe('checkPassword: email', () => {
  it('refuses a password containing the local part of the email, in any case', () => {
    for (const password of ['anna.smith-rocks', 'ANNA.SMITH 2025 x', 'my Anna.Smith password']) {
      const result = checkPassword(password, { email: 'anna.smith@example.com' });
      expectProblem(result, 'password_contains_email');
    }
    expectProblem(checkPassword('kettle anna.smith', { email: 'Anna.Smith@Example.COM' }), 'password_contains_email');
  });

  it('applies from a local part of 4 characters', () => {
    expectProblem(checkPassword('kettle-anna-moon', { email: 'anna@example.com' }), 'password_contains_email');
    expectProblem(checkPassword('kettle-jürg-moon', { email: 'jürg@example.ch' }), 'password_contains_email');
  });

  it('ignores a local part of 3 characters or fewer', () => {
    expect(checkPassword('kettle-ana-moon!', { email: 'ana@example.com' })).toEqual({ ok: true });
    expect(checkPassword('kettle-jo-moon!!', { email: 'jo@example.com' })).toEqual({ ok: true });
  });

  it('looks at the local part only, not the domain', () => {
    expect(checkPassword('example kettle moon', { email: 'anna.smith@example.com' })).toEqual({ ok: true });
  });

  it('uses the part before the last "@" and ignores surrounding spaces', () => {
    expectProblem(checkPassword('kettle "a@b.c" moon', { email: '"a@b.c"@example.com' }), 'password_contains_email');
    expectProblem(checkPassword('kettle anna moon', { email: '  anna@example.com ' }), 'password_contains_email');
  });

  it('does not repeat the email in its message', () => {
    const result = checkPassword('anna.smith-rocks', { email: 'anna.smith@example.com' });
    expect(!result.ok && result.message).not.toContain('anna');
  });

  it('is skipped when there is no email or it is empty', () => {
    expect(checkPassword('kettle anna moon', {})).toEqual({ ok: true });
    expect(checkPassword('kettle anna moon', { email: '' })).toEqual({ ok: true });
    expect(checkPassword('kettle anna moon')).toEqual({ ok: true });
  });

  it('checks the list before the email', () => {
    expectProblem(checkPassword('password1234', { email: 'password1234@example.com' }), 'password_common');
  });
});

describe('checkPassword: name', () => {
  it('refuses a password containing a part of the name of 4 or more characters', () => {
    expectProblem(checkPassword('johanna-loves-tea', { name: 'Johanna de Vries' }), 'password_contains_name');
    expectProblem(checkPassword('kettle VRIES moon', { name: 'Johanna de Vries' }), 'password_contains_name');
    expectProblem(checkPassword('kettle müller moon', { name: 'Jörg Müller-Lüdenscheidt' }), 'password_contains_name');
  });

  it('ignores short name parts', () => {
    expect(checkPassword('de kettle moon li', { name: 'Li de Bo' })).toEqual({ ok: true });
  });

  it('checks the email before the name', () => {
    expectProblem(checkPassword('kettle johanna moon', { email: 'johanna@example.com', name: 'Johanna' }), 'password_contains_email');
  });
});

describe('checkPassword: strong passwords pass', () => {
  it.each([
    'correct horse battery staple',
    'tulip anchor gravel moonlight',
    'Blue-Kettle-Sings-47',
    'mijn fiets is groen en snel',
    'Zürich Bäckerei am Morgen',
    'ébène été forêt château',
    '東京の夜はとても静かで美しい',
    'Vk7#mQ2!pLx9wR4$',
    '🦊 jumps over 🐶 twice',
  ])('accepts %j', (password) => {
    expect(checkPassword(password, { email: 'anna.smith@example.com', name: 'Anna Smith' })).toEqual({ ok: true });
  });
});
