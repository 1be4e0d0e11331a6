import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Application-level encryption of individual database fields (MFA secrets, bank details).
 * A stolen backup or a read-only SQL injection then yields ciphertext, not secrets.
 *
 * Stored format: `v1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts). The key id travels
 * with the value so keys can be rotated: the first configured key encrypts, every configured
 * key decrypts, and `needsRotation` finds values still sealed under an older key.
 */

const VERSION = 'v1';
const HKDF_SALT = 'ledgerline-field-encryption';
const KEY_BYTES = 32;
// 96-bit IVs are what GCM is designed for; random IVs stay safe far beyond our write volume.
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Secrets shorter than the AES key would cap the key's strength below 256 bits.
const MIN_SECRET_BYTES = 32;
// Key ids are written into every value between dots, so they must not contain one.
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export interface FieldEncryptionKey {
  id: string;
  secret: string;
}

export type DecryptionFailure = 'malformed' | 'unknown_key' | 'authentication_failed';

/**
 * The only error `decrypt` throws. Its message never contains the value, the context or key
 * material, so it is safe to log; `reason` separates a configuration problem (a retired key
 * still in use) from corrupt or tampered data.
 */
export class DecryptionError extends Error {
  readonly reason: DecryptionFailure;

  constructor(reason: DecryptionFailure, message: string) {
    super(message);
    this.name = 'DecryptionError';
    this.reason = reason;
  }
}

interface ParsedValue {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export class FieldEncryption {
  // Private fields (not `private` properties) so key material never shows up when the
  // instance is inspected, serialised or walked by the log redactor.
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #currentKeyId: string;

  constructor(keys: ReadonlyArray<FieldEncryptionKey>) {
    if (!Array.isArray(keys) || keys.length === 0) throw new Error('FieldEncryption needs at least one key');
    const derived = new Map<string, Buffer>();
    for (const { id, secret } of keys) {
      if (typeof id !== 'string' || !KEY_ID.test(id)) {
        throw new Error('FieldEncryption key ids must be 1-64 characters of [A-Za-z0-9_-]');
      }
      if (derived.has(id)) throw new Error(`FieldEncryption key id "${id}" is configured twice`);
      if (typeof secret !== 'string' || Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES) {
        throw new Error(`FieldEncryption key "${id}" needs a secret of at least ${MIN_SECRET_BYTES} bytes`);
      }
      // HKDF with the key id as `info` gives each id its own AES key, even if an operator
      // reuses a secret under a new id.
      derived.set(id, Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, id, KEY_BYTES)));
    }
    this.#keys = derived;
    this.#currentKeyId = keys[0].id;
  }

  /** The id of the key new values are encrypted with. */
  get currentKeyId(): string {
    return this.#currentKeyId;
  }

  /**
   * `context` names where the value lives (e.g. `users.mfa_secret:<userId>`). It is
   * authenticated, not stored: a value copied to another row or column will not decrypt.
   */
  encrypt(plaintext: string, context: string): string {
    if (typeof plaintext !== 'string') throw new TypeError('plaintext must be a string');
    if (typeof context !== 'string' || context.length === 0) throw new TypeError('context must be a non-empty string');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key(this.#currentKeyId), iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, this.#currentKeyId, iv.toString('base64url'), ciphertext.toString('base64url'), tag.toString('base64url')].join('.');
  }

  /** Throws `DecryptionError` (and nothing else) for any value it cannot authenticate. */
  decrypt(value: string, context: string): string {
    const parsed = parse(value);
    if (!parsed) throw new DecryptionError('malformed', 'Encrypted value is malformed');
    const key = this.#keys.get(parsed.keyId);
    if (!key) throw new DecryptionError('unknown_key', `Encrypted value uses unknown key "${parsed.keyId}"`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, parsed.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(parsed.tag);
      const plaintext = Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
      // A fatal decoder: authenticated bytes that are not UTF-8 were not written by `encrypt`.
      return new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
    } catch {
      throw new DecryptionError('authentication_failed', 'Encrypted value failed authentication');
    }
  }

  /** `decrypt`, or null for a value it cannot authenticate (absent, malformed, unknown key, tampered). */
  decryptOrNull(value: string | null | undefined, context: string): string | null {
    if (typeof value !== 'string') return null;
    try {
      return this.decrypt(value, context);
    } catch (error) {
      if (error instanceof DecryptionError) return null;
      throw error;
    }
  }

  /** The key id a well-formed value was encrypted with, or undefined if it is not one. */
  keyIdOf(value: string): string | undefined {
    return parse(value)?.keyId;
  }

  /**
   * True unless the value is well formed and sealed under the current key. A re-encryption
   * job runs `encrypt(decrypt(value, ctx), ctx)` on these; malformed values then surface as
   * a DecryptionError instead of being skipped silently.
   */
  needsRotation(value: string): boolean {
    return this.keyIdOf(value) !== this.#currentKeyId;
  }

  #key(id: string): Buffer {
    const key = this.#keys.get(id);
    if (!key) throw new Error(`FieldEncryption key "${id}" is not configured`);
    return key;
  }
}

// Strict parsing: each part must be canonical base64url of the exact length, so that no two
// different strings decode to the same bytes (Node's decoder silently skips invalid
// characters and ignores a final character's unused bits).
function parse(value: unknown): ParsedValue | undefined {
  if (typeof value !== 'string') return undefined;
  const parts = value.split('.');
  if (parts.length !== 5) return undefined;
  const [version, keyId, iv, ciphertext, tag] = parts;
  if (version !== VERSION || !KEY_ID.test(keyId)) return undefined;
  const ivBytes = decodeBase64url(iv);
  const ciphertextBytes = decodeBase64url(ciphertext);
  const tagBytes = decodeBase64url(tag);
  if (!ivBytes || !ciphertextBytes || !tagBytes) return undefined;
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) return undefined;
  return { keyId, iv: ivBytes, ciphertext: ciphertextBytes, tag: tagBytes };
}

function decodeBase64url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}
