import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Sealing of a customer's personal data inside audit events (crypto-shredding).
 *
 * The hash chain covers every stored field, so a value once written into an event can never be
 * removed without breaking verification. What a customer leaves behind when they use a signed
 * link (their IP address and browser) is therefore stored sealed: AES-256-GCM under a random
 * key of that customer alone, bound (as additional data) to the business, the customer and the
 * field. The chain hashes the sealed text. Erasing the customer destroys their key; the sealed
 * text stays, still verifies, and no longer reveals anything.
 *
 * Stored format: `pii1.<iv>.<ciphertext>.<tag>` (base64url parts).
 */
const PREFIX = 'pii1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const PII_KEY_BYTES = 32;
const PART = /^[A-Za-z0-9_-]+$/;

export type SealedField = 'ip' | 'user_agent';

export function newPiiKey(): Buffer {
  return randomBytes(PII_KEY_BYTES);
}

function additionalData(businessId: string, customerId: string, field: SealedField): Buffer {
  return Buffer.from(`ledgerline/audit-pii/v1:${businessId.toLowerCase()}:${customerId.toLowerCase()}:${field}`, 'utf8');
}

export function isSealed(value: string | null | undefined): boolean {
  return typeof value === 'string' && value.startsWith(`${PREFIX}.`);
}

export function sealValue(key: Buffer, owner: { businessId: string; customerId: string }, field: SealedField, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(owner.businessId, owner.customerId, field));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [PREFIX, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** The plaintext, or undefined when the value is not a sealed value of this owner and field (or was tampered with). */
export function openValue(key: Buffer, owner: { businessId: string; customerId: string }, field: SealedField, value: string): string | undefined {
  const parts = value.split('.');
  if (parts.length !== 4 || parts[0] !== PREFIX || !parts.slice(1).every((part) => PART.test(part))) return undefined;
  const iv = Buffer.from(parts[1], 'base64url');
  const ciphertext = Buffer.from(parts[2], 'base64url');
  const tag = Buffer.from(parts[3], 'base64url');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(owner.businessId, owner.customerId, field));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
