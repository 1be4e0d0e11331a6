import { createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { DecryptionError, FieldEncryption } from './field-encryption.js';

const secret = (): string => randomBytes(32).toString('base64url');
const K1 = { id: 'k1', secret: secret() };
const K2 = { id: 'k2', secret: secret() };
const CONTEXT = 'users.mfa_secret:usr_01HZX3';

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Runs `fn` and returns what it threw, failing the test if it returned normally. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

function expectDecryptionError(fn: () => unknown, reason?: DecryptionError['reason']): DecryptionError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(DecryptionError);
  if (reason) expect((error as DecryptionError).reason).toBe(reason);
  return error as DecryptionError;
}

/** Re-assembles a value with one byte of one base64url part flipped. */
function flipByte(value: string, partIndex: number, byteIndex: number): string {
  const parts = value.split('.');
  const bytes = Buffer.from(parts[partIndex], 'base64url');
  bytes[byteIndex] ^= 0x01;
  parts[partIndex] = bytes.toString('base64url');
  return parts.join('.');
}

describe('FieldEncryption: construction', () => {
  it('refuses an empty key list', () => {
    expect(() => new FieldEncryption([])).toThrow(/at least one key/);
  });

  it('refuses a key id that is configured twice', () => {
    expect(() => new FieldEncryption([K1, { id: 'k1', secret: secret() }])).toThrow(/twice/);
  });

  it.each(['', 'k.1', 'k 1', 'k/1', 'ключ', 'x'.repeat(65)])('refuses the key id %j', (id) => {
    expect(() => new FieldEncryption([{ id, secret: secret() }])).toThrow(/key ids/);
  });

  it('refuses a secret shorter than 32 bytes and accepts one of exactly 32', () => {
    expect(() => new FieldEncryption([{ id: 'k1', secret: 'x'.repeat(31) }])).toThrow(/at least 32 bytes/);
    expect(() => new FieldEncryption([{ id: 'k1', secret: 'x'.repeat(32) }])).not.toThrow();
  });

  it('counts secret length in UTF-8 bytes', () => {
    // 16 x 'é' is 16 characters but 32 bytes.
    expect(() => new FieldEncryption([{ id: 'k1', secret: 'é'.repeat(16) }])).not.toThrow();
    expect(() => new FieldEncryption([{ id: 'k1', secret: 'é'.repeat(15) }])).toThrow(/at least 32 bytes/);
  });

  it('does not reveal its secrets or derived keys when inspected or serialised', () => {
    const encryption = new FieldEncryption([K1, K2]);
    const shown = `${inspect(encryption, { depth: 10, showHidden: true })} ${JSON.stringify(encryption)}`;
    expect(shown).not.toContain(K1.secret);
    expect(shown).not.toContain(K2.secret);
    expect(shown).not.toMatch(/[0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2}/); // no Buffer dump
  });

  it('encrypts with the first key', () => {
    expect(new FieldEncryption([K2, K1]).currentKeyId).toBe('k2');
    expect(new FieldEncryption([K1, K2]).currentKeyId).toBe('k1');
  });
});

describe('FieldEncryption: encrypt and decrypt', () => {
  const encryption = new FieldEncryption([K1]);

  it.each(['JBSWY3DPEHPK3PXP', 'NL91 ABNA 0417 1643 00', 'a', ' padded with spaces ', 'x'.repeat(10_000)])('round-trips %j', (plaintext) => {
    expect(encryption.decrypt(encryption.encrypt(plaintext, CONTEXT), CONTEXT)).toBe(plaintext);
  });

  it('round-trips the empty string', () => {
    const value = encryption.encrypt('', CONTEXT);
    expect(value.split('.')[3]).toBe('');
    expect(encryption.decrypt(value, CONTEXT)).toBe('');
  });

  it.each(['Zürich — Straße', '東京都千代田区', 'emoji 🔐🧾💶', 'e\u0301 (combining accent)', 'line\nbreak\ttab\u0000nul'])('round-trips the unicode text %j', (plaintext) => {
    expect(encryption.decrypt(encryption.encrypt(plaintext, CONTEXT), CONTEXT)).toBe(plaintext);
  });

  it('round-trips a unicode context', () => {
    const context = 'clients.iban:Müller & Söhne 🏗';
    expect(encryption.decrypt(encryption.encrypt('DE89370400440532013000', context), context)).toBe('DE89370400440532013000');
  });

  it('produces v1.<keyId>.<iv>.<ciphertext>.<tag> with a 12-byte IV and a 16-byte tag', () => {
    const plaintext = 'JBSWY3DPEHPK3PXP';
    const value = encryption.encrypt(plaintext, CONTEXT);
    expect(value).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    const [, , iv, ciphertext, tag] = value.split('.');
    expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
    expect(Buffer.from(ciphertext, 'base64url')).toHaveLength(Buffer.byteLength(plaintext));
    expect(Buffer.from(tag, 'base64url')).toHaveLength(16);
  });

  it('does not contain the plaintext or the context', () => {
    const plaintext = 'JBSWY3DPEHPK3PXP';
    const value = encryption.encrypt(plaintext, CONTEXT);
    expect(value).not.toContain(plaintext);
    expect(value).not.toContain(Buffer.from(plaintext).toString('base64url'));
    expect(value).not.toContain('usr_01HZX3');
  });

  it('gives a different ciphertext and IV every time (random IV)', () => {
    const values = Array.from({ length: 200 }, () => encryption.encrypt('same plaintext', CONTEXT));
    expect(new Set(values).size).toBe(values.length);
    expect(new Set(values.map((value) => value.split('.')[2])).size).toBe(values.length);
    for (const value of values) expect(encryption.decrypt(value, CONTEXT)).toBe('same plaintext');
  });

  it('is decrypted by another instance built from the same keys (stable derivation)', () => {
    const value = encryption.encrypt('portable', CONTEXT);
    expect(new FieldEncryption([{ ...K1 }]).decrypt(value, CONTEXT)).toBe('portable');
  });

  it('follows the documented construction: HKDF-SHA256 key, AES-256-GCM, context as AAD', () => {
    const value = encryption.encrypt('documented', CONTEXT);
    const [, keyId, iv, ciphertext, tag] = value.split('.');
    const key = Buffer.from(hkdfSync('sha256', K1.secret, 'ledgerline-field-encryption', keyId, 32));
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(CONTEXT, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plaintext = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
    expect(plaintext.toString('utf8')).toBe('documented');
  });

  it('still decrypts a value stored by an earlier build (fixed vector)', () => {
    // Guards the derivation parameters: changing salt, info or format would strand stored data.
    const fixed = new FieldEncryption([{ id: 'fixture', secret: 'ledgerline-test-secret-0123456789abcdef' }]);
    const stored = 'v1.fixture.KGllga8fnhmQC71A.BJzr9v9g9yQ0_xkFCZfbxQ.jMxsVFTrxp3no3oxwpgJiw';
    expect(fixed.decrypt(stored, 'users.mfa_secret:usr_fixture')).toBe('JBSWY3DPEHPK3PXP');
  });

  it('refuses an empty or non-string context and a non-string plaintext when encrypting', () => {
    expect(() => encryption.encrypt('x', '')).toThrow(TypeError);
    expect(() => encryption.encrypt('x', undefined as unknown as string)).toThrow(TypeError);
    expect(() => encryption.encrypt(42 as unknown as string, CONTEXT)).toThrow(TypeError);
  });
});

describe('FieldEncryption: context binding', () => {
  const encryption = new FieldEncryption([K1]);
  const value = encryption.encrypt('JBSWY3DPEHPK3PXP', CONTEXT);

  it.each([
    'users.mfa_secret:usr_01HZX4', // another row
    'users.recovery_secret:usr_01HZX3', // another column
    'Users.mfa_secret:usr_01HZX3', // case matters
    'users.mfa_secret:usr_01HZX3 ', // so does whitespace
    'users.mfa_secret:usr_01HZX',
    'users.mfa_secret:',
    '',
  ])('does not decrypt under the context %j', (context) => {
    const error = expectDecryptionError(() => encryption.decrypt(value, context), 'authentication_failed');
    expect(error.message).not.toContain('usr_01HZX');
  });

  it('fails with a DecryptionError for a non-string context', () => {
    expectDecryptionError(() => encryption.decrypt(value, undefined as unknown as string), 'authentication_failed');
  });
});

describe('FieldEncryption: tampering', () => {
  const encryption = new FieldEncryption([K1]);
  const value = encryption.encrypt('JBSWY3DPEHPK3PXP', CONTEXT);
  const parts = value.split('.');

  it.each([
    ['IV', 2],
    ['ciphertext', 3],
    ['tag', 4],
  ])('rejects a flipped bit in any byte of the %s', (_name, partIndex) => {
    const length = Buffer.from(parts[partIndex as number], 'base64url').length;
    expect(length).toBeGreaterThan(0);
    for (let byte = 0; byte < length; byte += 1) {
      expectDecryptionError(() => encryption.decrypt(flipByte(value, partIndex as number, byte), CONTEXT), 'authentication_failed');
    }
  });

  it('rejects any single changed character anywhere in the value', () => {
    for (let index = 0; index < value.length; index += 1) {
      if (value[index] === '.') continue;
      for (const replacement of ['A', 'B', 'g', '0', '_']) {
        if (replacement === value[index]) continue;
        const tampered = value.slice(0, index) + replacement + value.slice(index + 1);
        expectDecryptionError(() => encryption.decrypt(tampered, CONTEXT));
      }
    }
  });

  it('rejects a truncated tag, even one that is still a valid GCM tag length', () => {
    const tag = Buffer.from(parts[4], 'base64url');
    for (const length of [15, 12, 8, 4, 0]) {
      const truncated = [...parts.slice(0, 4), tag.subarray(0, length).toString('base64url')].join('.');
      expectDecryptionError(() => encryption.decrypt(truncated, CONTEXT));
    }
  });

  it('rejects ciphertext from one value spliced onto the IV and tag of another', () => {
    const other = encryption.encrypt('JBSWY3DPEHPK3PXQ', CONTEXT).split('.');
    const spliced = [parts[0], parts[1], parts[2], other[3], parts[4]].join('.');
    expectDecryptionError(() => encryption.decrypt(spliced, CONTEXT), 'authentication_failed');
  });

  it('rejects truncated or extended ciphertext', () => {
    const ciphertext = Buffer.from(parts[3], 'base64url');
    const shorter = [...parts.slice(0, 3), ciphertext.subarray(1).toString('base64url'), parts[4]].join('.');
    const longer = [...parts.slice(0, 3), Buffer.concat([ciphertext, Buffer.from([0])]).toString('base64url'), parts[4]].join('.');
    expectDecryptionError(() => encryption.decrypt(shorter, CONTEXT), 'authentication_failed');
    expectDecryptionError(() => encryption.decrypt(longer, CONTEXT), 'authentication_failed');
  });
});

describe('FieldEncryption: keys and rotation', () => {
  it('rejects a value whose key id is not configured', () => {
    const value = new FieldEncryption([K1]).encrypt('secret', CONTEXT);
    const error = expectDecryptionError(() => new FieldEncryption([K2]).decrypt(value, CONTEXT), 'unknown_key');
    expect(error.message).toContain('k1');
  });

  it('rejects a value whose key id was rewritten to another configured key', () => {
    const encryption = new FieldEncryption([K1, K2]);
    const value = encryption.encrypt('secret', CONTEXT);
    expectDecryptionError(() => encryption.decrypt(value.replace('v1.k1.', 'v1.k2.'), CONTEXT), 'authentication_failed');
  });

  it('derives a different key per id, even when an operator reuses a secret', () => {
    const shared = secret();
    const value = new FieldEncryption([{ id: 'a', secret: shared }]).encrypt('secret', CONTEXT);
    const other = new FieldEncryption([{ id: 'b', secret: shared }]);
    expectDecryptionError(() => other.decrypt(value.replace('v1.a.', 'v1.b.'), CONTEXT), 'authentication_failed');
  });

  it('does not decrypt with a different secret under the same key id', () => {
    const value = new FieldEncryption([K1]).encrypt('secret', CONTEXT);
    expectDecryptionError(() => new FieldEncryption([{ id: 'k1', secret: secret() }]).decrypt(value, CONTEXT), 'authentication_failed');
  });

  it('rotates: old values still decrypt, are flagged, and re-encrypt under the new key', () => {
    const before = new FieldEncryption([K1]);
    const old = before.encrypt('JBSWY3DPEHPK3PXP', CONTEXT);
    expect(before.needsRotation(old)).toBe(false);

    const after = new FieldEncryption([K2, K1]);
    expect(after.keyIdOf(old)).toBe('k1');
    expect(after.needsRotation(old)).toBe(true);
    expect(after.decrypt(old, CONTEXT)).toBe('JBSWY3DPEHPK3PXP');

    const rotated = after.encrypt(after.decrypt(old, CONTEXT), CONTEXT);
    expect(after.keyIdOf(rotated)).toBe('k2');
    expect(after.needsRotation(rotated)).toBe(false);
    expect(after.decrypt(rotated, CONTEXT)).toBe('JBSWY3DPEHPK3PXP');
    // The old key cannot read the new value.
    expectDecryptionError(() => before.decrypt(rotated, CONTEXT), 'unknown_key');
  });

  it('once the old key is removed, values still under it fail with unknown_key', () => {
    const old = new FieldEncryption([K1]).encrypt('JBSWY3DPEHPK3PXP', CONTEXT);
    const retired = new FieldEncryption([K2]);
    expectDecryptionError(() => retired.decrypt(old, CONTEXT), 'unknown_key');
    expect(retired.needsRotation(old)).toBe(true);
  });

  it('keyIdOf returns undefined for anything that is not a well-formed value', () => {
    const encryption = new FieldEncryption([K1]);
    expect(encryption.keyIdOf(encryption.encrypt('x', CONTEXT))).toBe('k1');
    for (const value of ['', 'JBSWY3DPEHPK3PXP', 'v1.k1', 'v2.k1.AAAAAAAAAAAAAAAA..AAAAAAAAAAAAAAAAAAAAAA', null, undefined, 7]) {
      expect(encryption.keyIdOf(value as string)).toBeUndefined();
      expect(encryption.needsRotation(value as string)).toBe(true);
    }
  });
});

describe('FieldEncryption: malformed input', () => {
  const encryption = new FieldEncryption([K1]);
  const valid = encryption.encrypt('JBSWY3DPEHPK3PXP', CONTEXT);
  const [, , iv, ciphertext, tag] = valid.split('.');

  it.each([
    ['empty string', ''],
    ['plaintext', 'JBSWY3DPEHPK3PXP'],
    ['only dots', '....'],
    ['version only', 'v1'],
    ['missing tag', `v1.k1.${iv}.${ciphertext}`],
    ['extra part', `${valid}.AAAA`],
    ['trailing dot', `${valid}.`],
    ['unknown version', `v2.k1.${iv}.${ciphertext}.${tag}`],
    ['upper-case version', `V1.k1.${iv}.${ciphertext}.${tag}`],
    ['empty key id', `v1..${iv}.${ciphertext}.${tag}`],
    ['key id with a space', `v1.k 1.${iv}.${ciphertext}.${tag}`],
    ['standard base64 characters', `v1.k1.${iv}.${ciphertext}+/.${tag}`],
    ['base64 padding', `v1.k1.${iv}.${ciphertext}.${tag}==`],
    ['whitespace inside a part', `v1.k1.${iv}.${ciphertext}. ${tag}`],
    ['surrounding whitespace', ` ${valid} `],
    ['short IV', `v1.k1.${iv.slice(0, 12)}.${ciphertext}.${tag}`],
    ['long IV', `v1.k1.${iv}AAAA.${ciphertext}.${tag}`],
    ['empty IV', `v1.k1..${ciphertext}.${tag}`],
    ['long tag', `v1.k1.${iv}.${ciphertext}.${tag}AAAA`],
    ['base64url of impossible length (5 characters)', `v1.k1.${iv}.AAAAA.${tag}`],
    ['non-canonical base64url (unused bits set)', `v1.k1.${iv}.AB.${tag}`],
    ['unicode', `v1.k1.${iv}.${ciphertext}é.${tag}`],
    ['JSON', JSON.stringify({ v: 1, k: 'k1' })],
  ])('rejects %s with a DecryptionError', (_name, value) => {
    expectDecryptionError(() => encryption.decrypt(value, CONTEXT), 'malformed');
  });

  it.each([null, undefined, 42, {}, [], Buffer.from(valid)])('rejects the non-string value %p with a DecryptionError', (value) => {
    expectDecryptionError(() => encryption.decrypt(value as unknown as string, CONTEXT), 'malformed');
  });

  it('never throws anything but a DecryptionError for random junk', () => {
    for (let i = 0; i < 500; i += 1) {
      const junk = randomBytes(1 + (i % 120)).toString(i % 2 ? 'latin1' : 'base64url');
      expectDecryptionError(() => encryption.decrypt(junk, CONTEXT));
    }
  });

  it('never throws anything but a DecryptionError for well-shaped values with random parts', () => {
    for (let i = 0; i < 200; i += 1) {
      const parts = ['v1', 'k1', randomBytes(12), randomBytes(i % 40), randomBytes(16)].map((part) => (typeof part === 'string' ? part : part.toString('base64url')));
      expectDecryptionError(() => encryption.decrypt(parts.join('.'), CONTEXT), 'authentication_failed');
    }
  });

  it('keeps its messages free of the value and the context', () => {
    const tampered = flipByte(valid, 3, 0);
    for (const value of [tampered, 'v1.k1.garbage', `${valid}x`]) {
      const error = expectDecryptionError(() => encryption.decrypt(value, CONTEXT));
      expect(error.message).not.toContain(CONTEXT);
      expect(error.message).not.toContain(ciphertext);
      expect(error.name).toBe('DecryptionError');
      expect(error).toBeInstanceOf(Error);
    }
  });

  it('rejects every other character in the last position of the tag, whose low 4 bits are unused', () => {
    // Node's decoder ignores those bits; only the canonical-encoding check catches these.
    const tagStart = valid.lastIndexOf('.') + 1;
    for (const replacement of BASE64URL_ALPHABET) {
      const index = valid.length - 1;
      if (replacement === valid[index]) continue;
      const tampered = valid.slice(0, index) + replacement;
      expect(tampered.slice(tagStart)).toHaveLength(22);
      expectDecryptionError(() => encryption.decrypt(tampered, CONTEXT));
    }
  });
});
