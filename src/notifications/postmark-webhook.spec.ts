import { basicAuthMatches, parseDeliveryEvent } from './postmark-webhook.js';

const expected = { user: 'postmark', password: 'correct horse battery staple' };
const basic = (pair: string): string => `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;

describe('Postmark webhook HTTP Basic', () => {
  it('accepts exactly the configured pair', () => {
    expect(basicAuthMatches(basic('postmark:correct horse battery staple'), expected)).toBe(true);
    expect(basicAuthMatches(`basic ${Buffer.from('postmark:correct horse battery staple').toString('base64')}`, expected)).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['wrong password', basic('postmark:correct horse battery stapl')],
    ['password with a suffix', basic('postmark:correct horse battery staple!')],
    ['wrong user', basic('Postmark:correct horse battery staple')],
    ['user and password swapped', basic('correct horse battery staple:postmark')],
    ['no colon', basic('postmarkcorrect horse battery staple')],
    ['empty', 'Basic '],
    ['another scheme', 'Bearer correct horse battery staple'],
    ['not base64', 'Basic ***'],
    ['a second credential appended', `${basic('postmark:correct horse battery staple')}, Basic eA==`],
  ])('refuses %s', (_label, header) => {
    expect(basicAuthMatches(header, expected)).toBe(false);
  });

  it('refuses everything when no credentials are configured', () => {
    expect(basicAuthMatches(basic(':'), { user: '', password: '' })).toBe(false);
    expect(basicAuthMatches(basic('postmark:'), { user: 'postmark', password: undefined })).toBe(false);
  });
});

describe('reading a Postmark webhook body', () => {
  const now = new Date('2026-11-20T12:00:00Z');
  const id = '5d0f3c2a-1b2c-4d5e-8f90-a1b2c3d4e5f6';

  it('reads a delivery', () => {
    const parsed = parseDeliveryEvent({ RecordType: 'Delivery', MessageID: 'm-1', Recipient: 'a@b.test', DeliveredAt: '2026-11-20T10:00:00Z', Metadata: { ledgerline_email_id: id.toUpperCase() }, Tag: 'invoice' }, now);
    expect(parsed).toEqual({
      ok: true,
      event: { recordType: 'Delivery', messageId: 'm-1', emailId: id, recipient: 'a@b.test', occurredAt: new Date('2026-11-20T10:00:00Z'), suppresses: false, bounceType: null, detail: { tag: 'invoice' } },
    });
  });

  it.each([
    [{ RecordType: 'Bounce', Type: 'HardBounce', MessageID: 'm' }, true],
    [{ RecordType: 'Bounce', Type: 'BadEmailAddress', MessageID: 'm' }, true],
    [{ RecordType: 'Bounce', Type: 'ManuallyDeactivated', MessageID: 'm' }, true],
    [{ RecordType: 'Bounce', Type: 'SoftBounce', MessageID: 'm', Inactive: true }, true],
    [{ RecordType: 'Bounce', Type: 'SoftBounce', MessageID: 'm', Inactive: false }, false],
    [{ RecordType: 'Bounce', Type: 'Transient', MessageID: 'm' }, false],
    [{ RecordType: 'SpamComplaint', Type: 'SpamComplaint', MessageID: 'm' }, true],
    [{ RecordType: 'Open', MessageID: 'm' }, false],
    [{ RecordType: 'Click', MessageID: 'm' }, false],
  ])('suppresses after hard bounces and complaints only: %j → %s', (body, suppresses) => {
    const parsed = parseDeliveryEvent(body, now);
    expect(parsed.ok && parsed.event.suppresses).toBe(suppresses);
  });

  it.each([
    [null, 'malformed'],
    [[], 'malformed'],
    ['Delivery', 'malformed'],
    [42, 'malformed'],
    [{}, 'malformed'],
    [{ RecordType: '' }, 'malformed'],
    [{ RecordType: ['Delivery'] }, 'malformed'],
    [{ RecordType: 'Delivery' }, 'malformed'],
    [{ RecordType: 'Delivery', Metadata: { ledgerline_email_id: 'not-a-uuid' } }, 'malformed'],
    [{ RecordType: 'SubscriptionChange', MessageID: 'm' }, 'unsupported_record_type'],
    [{ RecordType: 'Inbound', MessageID: 'm' }, 'unsupported_record_type'],
  ])('ignores %j as %s', (body, reason) => {
    expect(parseDeliveryEvent(body, now)).toMatchObject({ ok: false, reason });
  });

  it('never trusts sizes or types: long strings are cut, odd timestamps fall back to now', () => {
    const parsed = parseDeliveryEvent({ RecordType: 'Click', MessageID: 'x'.repeat(1000), ReceivedAt: { $gt: 1 }, Tag: 'y'.repeat(1000), Recipient: 7 }, now);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.event.messageId).toHaveLength(128);
    expect(parsed.event.occurredAt).toEqual(now);
    expect(String(parsed.event.detail.tag)).toHaveLength(64);
    expect(parsed.event.recipient).toBeNull();
  });
});
