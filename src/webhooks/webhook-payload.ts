/**
 * What we keep of a verified provider event: its payload without personal data (customer and
 * payer names, emails, phones, addresses), card details beyond brand and last four, and
 * secrets (the shared log redaction: secret-, token- and signature-named keys, card-like digit
 * runs). Ids, amounts, statuses and our own metadata stay, so events can be processed and
 * reconciled from the stored copy (ids are never touched by the card-number scan). Pure functions.
 */
import { createHash } from 'node:crypto';
import { isSensitiveKey, REDACTED, redactString } from '../common/logging/redact.js';

// Keys whose whole value is personal data or card data we never keep.
const PERSONAL_KEYS = new Set([
  'email', 'email_address', 'receipt_email', 'customer_email', 'name', 'given_name', 'surname', 'full_name', 'phone', 'phone_number', 'national_number',
  'address', 'address_line_1', 'address_line_2', 'admin_area_1', 'admin_area_2', 'line1', 'line2', 'city', 'state', 'postal_code',
  'customer_details', 'billing_details', 'shipping', 'shipping_details', 'shipping_address', 'payer', 'payee', 'collected_information',
  'exp_month', 'exp_year', 'fingerprint', 'iin', 'network_transaction_id', 'tax_id', 'tax_ids', 'ip_address', 'device',
]);

const MAX_DEPTH = 16;
// Provider ids are kept verbatim: an all-digit PayPal id must not be mistaken for a card number.
const ID_KEY = /(^id$|_id$|^id_|^(payment_intent|latest_charge|charge|balance_transaction|payout|refund|dispute|source|customer|href)$)/i;

function strip(value: unknown, depth: number, key = ''): unknown {
  if (depth > MAX_DEPTH) return '[DEPTH]';
  if (typeof value === 'string') return ID_KEY.test(key) && /^[\x21-\x7e]{1,300}$/.test(value) ? value : redactString(value);
  if (Array.isArray(value)) return value.map((item) => strip(item, depth + 1, key));
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
    const hidden = PERSONAL_KEYS.has(name.toLowerCase()) || isSensitiveKey(name);
    out[name] = hidden && item !== null && item !== undefined && item !== '' ? REDACTED : strip(item, depth + 1, name);
  }
  return out;
}

/** A redacted deep copy of a provider event payload, safe to store and show to admins. */
export function redactProviderPayload(payload: unknown): unknown {
  return strip(payload, 0);
}

/** A stable event id for a verified delivery that carries none: the same bytes get the same id. */
export function syntheticEventId(raw: Buffer): string {
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

export interface DeliveredEvent {
  eventId: string;
  eventType: string;
  livemode: boolean | null;
  payload: unknown;
  /** Set when the verified event makes no sense: stored as failed with this reason, never processed. */
  malformed?: string;
}

const EVENT_ID = /^[\x21-\x7e]{1,255}$/;

function object(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A verified Stripe event's envelope: id, type, livemode and `data.object`, or why it is malformed. */
export function stripeEnvelope(event: unknown, raw: Buffer): DeliveredEvent {
  const body = object(event);
  const eventId = typeof body?.id === 'string' && EVENT_ID.test(body.id) ? body.id : undefined;
  const eventType = typeof body?.type === 'string' && EVENT_ID.test(body.type) ? body.type : undefined;
  const livemode = typeof body?.livemode === 'boolean' ? body.livemode : null;
  const missing = [!body ? 'not a JSON object' : undefined, !eventId ? 'id' : undefined, !eventType ? 'type' : undefined, body && !object(object(body.data)?.object) ? 'data.object' : undefined].filter(Boolean);
  return {
    eventId: eventId ?? syntheticEventId(raw),
    eventType: eventType ?? 'unknown',
    livemode,
    payload: body ?? { value: typeof event === 'string' ? event.slice(0, 1000) : event ?? null },
    ...(missing.length ? { malformed: `malformed_event: missing ${missing.join(', ')}` } : {}),
  };
}

/** A verified PayPal event's envelope: id, event_type and resource, or why it is malformed. */
export function paypalEnvelope(event: unknown, raw: Buffer): DeliveredEvent {
  const body = object(event);
  const eventId = typeof body?.id === 'string' && EVENT_ID.test(body.id) ? body.id : undefined;
  const eventType = typeof body?.event_type === 'string' && EVENT_ID.test(body.event_type) ? body.event_type : undefined;
  const missing = [!body ? 'not a JSON object' : undefined, !eventId ? 'id' : undefined, !eventType ? 'event_type' : undefined, body && !object(body.resource) ? 'resource' : undefined].filter(Boolean);
  return {
    eventId: eventId ?? syntheticEventId(raw),
    eventType: eventType ?? 'unknown',
    livemode: null,
    payload: body ?? { value: event ?? null },
    ...(missing.length ? { malformed: `malformed_event: missing ${missing.join(', ')}` } : {}),
  };
}
