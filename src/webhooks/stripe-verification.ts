/**
 * Verification of a Stripe webhook delivery, before anything is written.
 *
 * The signature is checked with the official `stripe.webhooks.constructEvent` on the exact raw
 * bytes (never the lower-level header helper, which skips the age check), with Stripe's
 * 5-minute tolerance for old timestamps. Two refusals Stripe's helper does not make: a
 * timestamp more than 5 minutes in the future (a clock far ahead, or a pre-signed delivery
 * held back for later), and an event whose `livemode` does not match the configured key
 * (a test event must never move money on a live account, nor a live one on a test setup).
 */
import Stripe from 'stripe';

/** Seconds a delivery may be old or ahead of our clock. */
export const STRIPE_TOLERANCE_SECONDS = 300;

export type StripeVerification = { ok: true; event: unknown } | { ok: false; reason: string };

/** The `t=` of a Stripe-Signature header, read the way Stripe's helper reads it (the last `t=` wins). */
export function signatureTimestamp(header: string): number | undefined {
  let timestamp: number | undefined;
  for (const item of header.split(',')) {
    const [key, value] = item.split('=');
    if (key === 't') timestamp = Number.parseInt(value ?? '', 10);
  }
  return timestamp === undefined || Number.isNaN(timestamp) ? undefined : timestamp;
}

export function verifyStripeDelivery(input: {
  webhooks: Pick<Stripe['webhooks'], 'constructEvent'>;
  raw: Buffer | undefined;
  header: string | string[] | undefined;
  secret: string;
  mode: 'live' | 'test' | undefined;
  now?: number;
}): StripeVerification {
  const now = input.now ?? Date.now();
  if (!input.raw || input.raw.length === 0) return { ok: false, reason: 'missing_body' };
  if (typeof input.header !== 'string' || input.header === '') return { ok: false, reason: 'missing_signature' };
  const timestamp = signatureTimestamp(input.header);
  if (timestamp === undefined) return { ok: false, reason: 'malformed_signature' };
  if (timestamp > Math.floor(now / 1000) + STRIPE_TOLERANCE_SECONDS) return { ok: false, reason: 'timestamp_in_future' };
  let event: unknown;
  try {
    event = input.webhooks.constructEvent(input.raw, input.header, input.secret, STRIPE_TOLERANCE_SECONDS, undefined, now);
  } catch (error) {
    if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
      return { ok: false, reason: /tolerance/i.test(error.message) ? 'timestamp_too_old' : 'invalid_signature' };
    }
    // The signature matched but the bytes are not JSON: authentic nonsense, stored as such.
    if (error instanceof SyntaxError) return { ok: true, event: undefined };
    return { ok: false, reason: 'invalid_signature' };
  }
  const livemode = event && typeof event === 'object' ? (event as { livemode?: unknown }).livemode : undefined;
  if (typeof livemode === 'boolean' && livemode !== (input.mode === 'live')) return { ok: false, reason: 'livemode_mismatch' };
  return { ok: true, event };
}
