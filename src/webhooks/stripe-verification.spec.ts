import Stripe from 'stripe';
import { signatureTimestamp, verifyStripeDelivery } from './stripe-verification.js';

const webhooks = new Stripe('sk_test_unit').webhooks;
const secret = 'whsec_unit_test_secret';
const now = Date.parse('2026-11-20T12:00:00Z');
const seconds = Math.floor(now / 1000);

function delivery(event: Record<string, unknown>, options: { timestamp?: number; secret?: string } = {}): { raw: Buffer; header: string } {
  const payload = JSON.stringify(event);
  return { raw: Buffer.from(payload), header: webhooks.generateTestHeaderString({ payload, secret: options.secret ?? secret, timestamp: options.timestamp ?? seconds }) };
}

const event = { id: 'evt_1', object: 'event', type: 'checkout.session.completed', livemode: false, data: { object: { id: 'cs_1' } } };

describe('verifyStripeDelivery', () => {
  const verify = (raw: Buffer | undefined, header: string | undefined, mode: 'live' | 'test' = 'test') => verifyStripeDelivery({ webhooks, raw, header, secret, mode, now });

  it('accepts a correctly signed, fresh event and returns it parsed from the raw bytes', () => {
    const { raw, header } = delivery(event);
    expect(verify(raw, header)).toEqual({ ok: true, event });
  });

  it.each<[string, () => { raw: Buffer | undefined; header: string | undefined }, string]>([
    ['no body', () => ({ raw: undefined, header: delivery(event).header }), 'missing_body'],
    ['no signature header', () => ({ raw: delivery(event).raw, header: undefined }), 'missing_signature'],
    ['a header without a timestamp', () => ({ raw: delivery(event).raw, header: 'v1=abc' }), 'malformed_signature'],
    ['another secret', () => delivery(event, { secret: 'whsec_other' }), 'invalid_signature'],
    ['a changed body', () => ({ ...delivery(event), raw: Buffer.from(JSON.stringify({ ...event, id: 'evt_2' })) }), 'invalid_signature'],
    ['re-serialised JSON (not the raw bytes)', () => ({ ...delivery(event), raw: Buffer.from(JSON.stringify(event, null, 2)) }), 'invalid_signature'],
    ['a timestamp 6 minutes old', () => delivery(event, { timestamp: seconds - 360 }), 'timestamp_too_old'],
    ['a timestamp 6 minutes ahead', () => delivery(event, { timestamp: seconds + 360 }), 'timestamp_in_future'],
  ])('refuses %s', (_name, make, reason) => {
    const { raw, header } = make();
    expect(verify(raw, header)).toEqual({ ok: false, reason });
  });

  it('accepts a timestamp 4 minutes ahead (clock skew)', () => {
    const { raw, header } = delivery(event, { timestamp: seconds + 240 });
    expect(verify(raw, header).ok).toBe(true);
  });

  it('refuses livemode events that do not match the key', () => {
    const live = delivery({ ...event, livemode: true });
    expect(verify(live.raw, live.header, 'test')).toEqual({ ok: false, reason: 'livemode_mismatch' });
    const test = delivery(event);
    expect(verify(test.raw, test.header, 'live')).toEqual({ ok: false, reason: 'livemode_mismatch' });
    expect(verify(live.raw, live.header, 'live').ok).toBe(true);
  });

  it('reads the timestamp as Stripe does (the last t= wins)', () => {
    expect(signatureTimestamp('t=1,v1=a,t=2')).toBe(2);
    expect(signatureTimestamp('v1=a')).toBeUndefined();
    expect(signatureTimestamp('t=x,v1=a')).toBeUndefined();
  });

  it('refuses a header whose later t= is in the future even when the first is not', () => {
    const { raw, header } = delivery(event);
    expect(verify(raw, `${header},t=${seconds + 3600}`).ok).toBe(false);
  });
});
