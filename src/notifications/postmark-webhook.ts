import { createHash, timingSafeEqual } from 'node:crypto';
import { EMAIL_ID_METADATA_KEY } from './email-transport.js';

/**
 * Pure rules for Postmark's webhooks: the HTTP Basic check and reading a delivery event out of
 * an untrusted body. Nothing here touches the database.
 */

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * True when `authorization` is `Basic base64(user:password)` with exactly the configured pair.
 * The user and the password are each compared as SHA-256 digests with `timingSafeEqual` (equal
 * lengths whatever was sent), both always, so the time taken does not say which part was wrong.
 */
export function basicAuthMatches(authorization: string | undefined, expected: { user?: string; password?: string }): boolean {
  if (!expected.user || !expected.password) return false;
  if (typeof authorization !== 'string') return false;
  const match = /^Basic ([A-Za-z0-9+/=]{1,1024})$/i.exec(authorization.trim());
  const decoded = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
  const separator = decoded.indexOf(':');
  const user = separator >= 0 ? decoded.slice(0, separator) : '';
  const password = separator >= 0 ? decoded.slice(separator + 1) : '';
  const userOk = timingSafeEqual(sha256(user), sha256(expected.user));
  const passwordOk = timingSafeEqual(sha256(password), sha256(expected.password));
  return Boolean(match) && separator >= 0 && userOk && passwordOk;
}

export const TRACKED_RECORD_TYPES = ['Delivery', 'Open', 'Click', 'Bounce', 'SpamComplaint'] as const;
export type TrackedRecordType = (typeof TRACKED_RECORD_TYPES)[number];

/** Bounce types after which the address must not be emailed again (Postmark's names). */
const SUPPRESSING_BOUNCES = new Set(['HardBounce', 'BadEmailAddress', 'SpamComplaint', 'ManuallyDeactivated']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface DeliveryEvent {
  recordType: TrackedRecordType;
  messageId: string | null;
  /** Our outbox row id from the message's metadata, when present and well-formed. */
  emailId: string | null;
  recipient: string | null;
  occurredAt: Date;
  /** Hard bounce or spam complaint: suppress the address for the business. */
  suppresses: boolean;
  bounceType: string | null;
  /** The few facts worth keeping (never the message content or the raw bounce dump). */
  detail: Record<string, string | number | boolean>;
}

export type ParsedEvent = { ok: true; event: DeliveryEvent } | { ok: false; reason: 'malformed' | 'unsupported_record_type'; recordType: string };

const text = (value: unknown, max: number): string | null => (typeof value === 'string' && value.length > 0 ? value.slice(0, max) : null);

function instant(value: unknown, fallback: Date): Date {
  if (typeof value !== 'string') return fallback;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? fallback : new Date(parsed);
}

/** Reads one webhook body. Anything unexpected is "ignored", never an exception. */
export function parseDeliveryEvent(body: unknown, now: Date = new Date()): ParsedEvent {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { ok: false, reason: 'malformed', recordType: 'unknown' };
  const record = body as Record<string, unknown>;
  const recordType = text(record.RecordType, 64);
  if (!recordType) return { ok: false, reason: 'malformed', recordType: 'unknown' };
  if (!(TRACKED_RECORD_TYPES as readonly string[]).includes(recordType)) return { ok: false, reason: 'unsupported_record_type', recordType };
  const messageId = text(record.MessageID, 128);
  const metadata = record.Metadata && typeof record.Metadata === 'object' ? (record.Metadata as Record<string, unknown>) : {};
  const metadataId = text(metadata[EMAIL_ID_METADATA_KEY], 64);
  const emailId = metadataId && UUID.test(metadataId) ? metadataId.toLowerCase() : null;
  if (!messageId && !emailId) return { ok: false, reason: 'malformed', recordType };
  const type = recordType as TrackedRecordType;
  const bounceType = type === 'Bounce' || type === 'SpamComplaint' ? text(record.Type, 64) : null;
  const detail: Record<string, string | number | boolean> = {};
  const keep = (key: string, value: unknown, max = 200): void => {
    if (typeof value === 'string' && value) detail[key] = value.slice(0, max);
    else if (typeof value === 'number' || typeof value === 'boolean') detail[key] = value;
  };
  keep('tag', record.Tag, 64);
  keep('messageStream', record.MessageStream, 64);
  if (type === 'Bounce' || type === 'SpamComplaint') {
    keep('type', record.Type, 64);
    keep('typeCode', record.TypeCode);
    keep('description', record.Description);
    keep('inactive', record.Inactive);
  }
  if (type === 'Open') keep('firstOpen', record.FirstOpen);
  if (type === 'Click') keep('clickLocation', record.ClickLocation, 32);
  const timeField = type === 'Delivery' ? record.DeliveredAt : type === 'Bounce' || type === 'SpamComplaint' ? record.BouncedAt : record.ReceivedAt;
  return {
    ok: true,
    event: {
      recordType: type,
      messageId,
      emailId,
      recipient: text(record.Recipient ?? record.Email, 320),
      occurredAt: instant(timeField, now),
      suppresses: type === 'SpamComplaint' || (type === 'Bounce' && (SUPPRESSING_BOUNCES.has(bounceType ?? '') || record.Inactive === true)),
      bounceType,
      detail,
    },
  };
}
