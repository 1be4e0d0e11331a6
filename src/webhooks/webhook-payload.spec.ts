import { paypalEnvelope, redactProviderPayload, stripeEnvelope, syntheticEventId } from './webhook-payload.js';

describe('redactProviderPayload', () => {
  it('removes personal data, card details and secrets but keeps ids, amounts and our metadata', () => {
    const session = {
      id: 'cs_test_1',
      object: 'checkout.session',
      amount_total: 8704,
      currency: 'eur',
      client_secret: 'cs_secret_abc',
      customer_details: { email: 'carla@example.test', name: 'Carla', address: { line1: '1 Road' } },
      metadata: { business_id: '11111111-1111-4111-8111-111111111111', invoice_id: '22222222-2222-4222-8222-222222222222' },
      payment_method_details: { card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030, fingerprint: 'fp' } },
      note: 'card 4242 4242 4242 4242',
    };
    const out = redactProviderPayload({ id: 'evt_1', data: { object: session } }) as { data: { object: Record<string, unknown> } };
    const object = out.data.object;
    expect(object).toMatchObject({ id: 'cs_test_1', amount_total: 8704, currency: 'eur', metadata: session.metadata, customer_details: '[REDACTED]', client_secret: '[REDACTED]' });
    expect(object.payment_method_details).toEqual({ card: { brand: 'visa', last4: '4242', exp_month: '[REDACTED]', exp_year: '[REDACTED]', fingerprint: '[REDACTED]' } });
    expect(JSON.stringify(out)).not.toMatch(/carla|4242 4242|cs_secret/i);
  });

  it('keeps provider ids verbatim, even all-digit ones, while scanning other text for card numbers', () => {
    const out = redactProviderPayload({ resource: { id: '12345678901234567', custom_id: 'a:b', supplementary_data: { related_ids: { order_id: '4242424242424242' } }, note_to_payer: '4242424242424242' } });
    expect(out).toEqual({ resource: { id: '12345678901234567', custom_id: 'a:b', supplementary_data: { related_ids: { order_id: '4242424242424242' } }, note_to_payer: '[REDACTED]' } });
  });

  it('removes the PayPal payer', () => {
    const out = redactProviderPayload({ resource: { id: 'CAP-1', payer: { email_address: 'buyer@example.test', name: { given_name: 'B' } } } });
    expect(JSON.stringify(out)).not.toContain('buyer@example.test');
  });

  it('never throws on deep or odd input', () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 100; i += 1) deep = (deep.next = {}) as Record<string, unknown>;
    expect(() => redactProviderPayload(root)).not.toThrow();
    expect(redactProviderPayload(null)).toBeNull();
    expect(redactProviderPayload([1, 'a'])).toEqual([1, 'a']);
  });
});

describe('envelopes', () => {
  const raw = Buffer.from('{}');

  it('reads a Stripe event', () => {
    expect(stripeEnvelope({ id: 'evt_1', type: 'charge.refunded', livemode: false, data: { object: { id: 'ch_1' } } }, raw)).toEqual({
      eventId: 'evt_1', eventType: 'charge.refunded', livemode: false, payload: { id: 'evt_1', type: 'charge.refunded', livemode: false, data: { object: { id: 'ch_1' } } },
    });
  });

  it.each<[string, unknown, string]>([
    ['no id', { type: 'x', data: { object: {} } }, 'id'],
    ['no type', { id: 'evt_1', data: { object: {} } }, 'type'],
    ['no data.object', { id: 'evt_1', type: 'x' }, 'data.object'],
    ['an array', [1, 2], 'not a JSON object'],
    ['not JSON at all', undefined, 'not a JSON object'],
    ['an id of 300 characters', { id: 'e'.repeat(300), type: 'x', data: { object: {} } }, 'id'],
  ])('marks a Stripe event with %s as malformed', (_name, event, missing) => {
    const envelope = stripeEnvelope(event, raw);
    expect(envelope.malformed).toContain(missing);
    expect(envelope.eventId.length).toBeLessThanOrEqual(255);
  });

  it('gives the same synthetic id to the same bytes', () => {
    expect(stripeEnvelope({}, raw).eventId).toBe(syntheticEventId(raw));
    expect(syntheticEventId(Buffer.from('a'))).not.toBe(syntheticEventId(Buffer.from('b')));
  });

  it('reads a PayPal event and refuses one without a resource', () => {
    expect(paypalEnvelope({ id: 'WH-1', event_type: 'PAYMENT.CAPTURE.COMPLETED', resource: { id: 'C' } }, raw).malformed).toBeUndefined();
    expect(paypalEnvelope({ id: 'WH-1', event_type: 'PAYMENT.CAPTURE.COMPLETED' }, raw).malformed).toContain('resource');
  });
});
