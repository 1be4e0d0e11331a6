import { createHash } from 'node:crypto';
import type { KeyEntry } from '../config/config.js';

/** Keys are due for rotation after 90 days (the source document's rule). */
export const KEY_ROTATION_DAYS = 90;
const MS_PER_DAY = 86_400_000;

/**
 * A key's creation date when its id says it: `k20261101`, `2026-11-01`, `key-20261101-a`. The
 * development secrets generator names keys this way; operators are encouraged to as well.
 */
export function dateInKeyId(keyId: string): Date | undefined {
  const match = /(?:^|[^0-9])(\d{4})-?(\d{2})-?(\d{2})(?:[^0-9]|$)/.exec(keyId);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 2000 || year > 2200 || month < 1 || month > 12 || day < 1) return undefined;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCDate() === day ? date : undefined;
}

/** A domain-separated SHA-256 of the secret: tells a re-used key id with a new secret apart, reveals nothing. */
export function keyFingerprint(kind: string, key: KeyEntry): string {
  return createHash('sha256').update(`ledgerline-key-fingerprint\n${kind}\n${key.id}\n${key.secret}`, 'utf8').digest('hex').slice(0, 32);
}

export interface KeyAge {
  keyId: string;
  current: boolean;
  /** When the key was made (from its id) or first seen by this installation, whichever is earlier. */
  since: string;
  ageDays: number;
  rotationDue: boolean;
}

export function keyAge(keyId: string, current: boolean, firstSeen: Date, now: Date = new Date()): KeyAge {
  const named = dateInKeyId(keyId);
  const since = named && named < firstSeen ? named : firstSeen;
  const ageDays = Math.max(0, Math.floor((now.getTime() - since.getTime()) / MS_PER_DAY));
  // Only the key in use needs rotating: older keys are kept for verification/decryption only.
  return { keyId, current, since: since.toISOString(), ageDays, rotationDue: current && ageDays > KEY_ROTATION_DAYS };
}
