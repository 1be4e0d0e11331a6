import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { EmailOutbox } from '../src/notifications/email-outbox.service.js';
import { EMAIL_ID_METADATA_KEY } from '../src/notifications/email-transport.js';
import { templates } from '../src/notifications/templates.js';
import { SecuritySignals } from '../src/security/security-signals.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { enrollMfa, inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { createInvoice, get, invoiceBody, seedCustomer } from './harness/invoicing.js';

/**
 * POST /webhooks/postmark: HTTP Basic compared in constant time (401 and nothing written on
 * failure); Delivery, Open, Click, Bounce and SpamComplaint recorded against the email and its
 * document; hard bounces and spam complaints suppress the address for the business until a
 * member clears it; malformed or unknown bodies acknowledged and recorded as ignored, never 500.
 * This app has no POSTMARK_SERVER_TOKEN: emails are captured, and tests give rows a MessageID.
 */
describe('Postmark webhooks', () => {
  let t: TestApp;
  let admin: TestAccount;
  let basic: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { POSTMARK_WEBHOOK_USER: 'postmark-hooks', POSTMARK_WEBHOOK_PASSWORD: 'a-long-random-webhook-password-for-tests' } });
    admin = await readyAdmin(t, { businessName: 'Hooked Ltd', email: uniqueEmail('hooked') });
    basic = `Basic ${Buffer.from('postmark-hooks:a-long-random-webhook-password-for-tests').toString('base64')}`;
  });
  afterAll(async () => {
    await t?.close();
  });

  /** `authorization: null` sends no Authorization header. */
  const hook = (payload: unknown, authorization: string | null = basic) =>
    t.inject({ method: 'POST', url: '/webhooks/postmark', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
  const eventCount = async (): Promise<number> => Number((await t.db.query('SELECT count(*) FROM email_events')).rows[0].count);

  /** A captured email about an invoice, given a Postmark MessageID as if it had been sent. */
  async function sentEmail(to: string, invoiceId?: string): Promise<{ emailId: string; messageId: string }> {
    const emailId = await t.app.get(DataSource).transaction((tx) =>
      t.app.get(EmailOutbox).enqueue(tx, {
        businessId: admin.businessId,
        to,
        template: 'invoice',
        content: templates.invoice({ businessName: 'Hooked Ltd', customerName: 'C', number: 'INV-1', total: '1', balanceDue: '1', dueDate: '2026-12-01' }),
        document: invoiceId ? { type: 'invoice', id: invoiceId } : undefined,
      }),
    );
    const messageId = randomUUID();
    await t.db.query(`UPDATE emails SET status = 'sent', sent_at = now(), provider_message_id = $2 WHERE id = $1`, [emailId, messageId]);
    return { emailId, messageId };
  }

  describe('credentials', () => {
    const wrong = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    it.each<[string, string | null]>([
      ['no Authorization header', null],
      ['a wrong password', wrong('postmark-hooks', 'a-long-random-webhook-password-for-tests!')],
      ['a wrong user', wrong('postmark', 'a-long-random-webhook-password-for-tests')],
      ['the password alone', `Basic ${Buffer.from('a-long-random-webhook-password-for-tests').toString('base64')}`],
      ['a Bearer token', 'Bearer a-long-random-webhook-password-for-tests'],
      ['garbage', 'Basic %%%%'],
      ['an empty pair', wrong('', '')],
    ])('%s: 401, nothing written, a security signal', async (_label, authorization) => {
      const signals = jest.spyOn(t.app.get(SecuritySignals), 'webhookVerificationFailed');
      const { messageId } = await sentEmail(uniqueEmail('cred'));
      const before = await eventCount();
      const response = await hook({ RecordType: 'Delivery', MessageID: messageId, Recipient: 'x@example.test', DeliveredAt: new Date().toISOString() }, authorization);
      expect(response.statusCode).toBe(401);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.headers['www-authenticate']).toMatch(/^Basic realm=/);
      expect(response.json()).toMatchObject({ status: 401, code: 'invalid_webhook_credentials' });
      expect(await eventCount()).toBe(before);
      expect((await t.db.query('SELECT delivered_at FROM emails WHERE provider_message_id = $1', [messageId])).rows[0].delivered_at).toBeNull();
      expect(signals).toHaveBeenCalledWith('postmark');
      signals.mockRestore();
    });
  });

  it('records Delivery, Open and Click against the email and its invoice; GET /v1/emails shows the state', async () => {
    const to = uniqueEmail('tracked');
    const customerId = await seedCustomer(t, admin.businessId, { email: to });
    const invoice = await createInvoice(t, admin, invoiceBody(customerId));
    const { emailId, messageId } = await sentEmail(to, invoice.id);
    const common = { MessageID: messageId, Recipient: to, Tag: 'invoice', MessageStream: 'outbound', Metadata: { [EMAIL_ID_METADATA_KEY]: emailId } };

    expect((await hook({ ...common, RecordType: 'Delivery', DeliveredAt: '2026-11-20T10:00:00Z', Details: 'smtp;250 2.0.0 OK', ServerID: 1 })).json()).toEqual({ outcome: 'recorded' });
    expect((await get(t, admin, `/v1/emails/${emailId}`)).json()).toMatchObject({ deliveryState: 'delivered', deliveredAt: '2026-11-20T10:00:00.000Z' });
    expect((await hook({ ...common, RecordType: 'Open', FirstOpen: true, ReceivedAt: '2026-11-20T10:05:00Z', UserAgent: 'Mail/1.0', Geo: { City: 'Berlin' } })).json()).toEqual({ outcome: 'recorded' });
    expect((await hook({ ...common, RecordType: 'Click', ClickLocation: 'HTML', OriginalLink: 'https://example.test/pay', ReceivedAt: '2026-11-20T10:06:00Z' })).json()).toEqual({ outcome: 'recorded' });

    const email = (await get(t, admin, `/v1/emails/${emailId}`)).json();
    expect(email).toMatchObject({ deliveryState: 'clicked', openedAt: '2026-11-20T10:05:00.000Z', clickedAt: '2026-11-20T10:06:00.000Z', document: { type: 'invoice', id: invoice.id } });
    expect(email.events.map((event: { recordType: string }) => event.recordType)).toEqual(['Delivery', 'Open', 'Click']);
    expect(email.events[1].detail).toEqual({ tag: 'invoice', messageStream: 'outbound', firstOpen: true }); // no user agent, no geo: only what we need
    const { rows } = await t.db.query('SELECT document_type, document_id::text, outcome FROM email_events WHERE email_id = $1', [emailId]);
    expect(rows).toEqual(Array(3).fill({ document_type: 'invoice', document_id: invoice.id, outcome: 'recorded' }));
  });

  it('records the same body once (Postmark retries)', async () => {
    const { messageId } = await sentEmail(uniqueEmail('twice'));
    const body = { RecordType: 'Delivery', MessageID: messageId, Recipient: 'x@example.test', DeliveredAt: '2026-11-20T10:00:00Z' };
    expect((await hook(body)).json()).toEqual({ outcome: 'recorded' });
    expect((await hook(body)).json()).toEqual({ outcome: 'duplicate' });
    expect(Number((await t.db.query('SELECT count(*) FROM email_events WHERE provider_message_id = $1', [messageId])).rows[0].count)).toBe(1);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a hard bounce', { RecordType: 'Bounce', Type: 'HardBounce', TypeCode: 1, Inactive: true, Description: 'The server was unable to deliver your message.' }, 'hard_bounce'],
    ['a spam complaint', { RecordType: 'SpamComplaint', Type: 'SpamComplaint', TypeCode: 512, Inactive: true }, 'spam_complaint'],
    ['a bad address', { RecordType: 'Bounce', Type: 'BadEmailAddress', TypeCode: 100000, Inactive: false }, 'hard_bounce'],
  ])('%s suppresses the address for the business until a member clears it', async (_label, event, reason) => {
    const to = uniqueEmail('bounce');
    const { emailId, messageId } = await sentEmail(to);
    expect((await hook({ ...event, ID: 42, MessageID: messageId, Email: to, BouncedAt: '2026-11-20T11:00:00Z' })).json()).toEqual({ outcome: 'recorded' });
    expect((await get(t, admin, `/v1/emails/${emailId}`)).json()).toMatchObject({ deliveryState: reason === 'spam_complaint' ? 'complained' : 'bounced' });
    const listed = (await get(t, admin, '/v1/email-suppressions')).json().data.find((item: { address: string }) => item.address === to);
    expect(listed).toMatchObject({ reason, emailId });

    // No more sends to it: the next email is `suppressed`, never handed to a transport.
    const { rows: [next] } = await t.db.query<{ id: string }>(
      `INSERT INTO emails (business_id, to_address, template, subject, text_body, html_body) VALUES ($1, $2, 'invoice', 's', 't', 'h') RETURNING id`,
      [admin.businessId, to.toUpperCase()],
    );
    await t.app.get(EmailOutbox).send({ emailId: next.id });
    expect((await t.db.query('SELECT status FROM emails WHERE id = $1', [next.id])).rows[0].status).toBe('suppressed');

    // Another business may still email the same address.
    const other = await readyAdmin(t, { businessName: 'Other', email: uniqueEmail('other-admin') });
    expect((await get(t, other, '/v1/email-suppressions')).json().data).toEqual([]);
    expect((await t.inject({ method: 'DELETE', url: `/v1/email-suppressions/${listed.id}`, headers: other.auth })).statusCode).toBe(404);

    expect((await t.inject({ method: 'DELETE', url: `/v1/email-suppressions/${listed.id}`, headers: admin.auth })).statusCode).toBe(204);
    expect((await get(t, admin, '/v1/email-suppressions')).json().data.find((item: { address: string }) => item.address === to)).toBeUndefined();
  });

  it('a soft bounce is recorded but suppresses nothing', async () => {
    const to = uniqueEmail('soft');
    const { messageId } = await sentEmail(to);
    expect((await hook({ RecordType: 'Bounce', Type: 'SoftBounce', TypeCode: 4096, Inactive: false, MessageID: messageId, Email: to, BouncedAt: '2026-11-20T11:00:00Z' })).json()).toEqual({ outcome: 'recorded' });
    expect((await get(t, admin, '/v1/email-suppressions')).json().data.find((item: { address: string }) => item.address === to)).toBeUndefined();
  });

  it('an event for a row still `sending` (its worker died before recording the MessageID) finishes it, found by our metadata', async () => {
    const to = uniqueEmail('early');
    const emailId = await t.app.get(DataSource).transaction((tx) =>
      t.app.get(EmailOutbox).enqueue(tx, { businessId: admin.businessId, to, template: 'invoice', content: templates.invoice({ businessName: 'H', customerName: 'C', number: '1', total: '1', balanceDue: '1', dueDate: '2026-12-01' }) }),
    );
    await t.db.query(`UPDATE emails SET status = 'sending', sending_at = now(), attempts = 1 WHERE id = $1`, [emailId]);
    const messageId = randomUUID();
    expect((await hook({ RecordType: 'Delivery', MessageID: messageId, Recipient: to, DeliveredAt: '2026-11-20T10:00:00Z', Metadata: { [EMAIL_ID_METADATA_KEY]: emailId } })).json()).toEqual({ outcome: 'recorded' });
    expect((await t.db.query('SELECT status, provider_message_id FROM emails WHERE id = $1', [emailId])).rows[0]).toEqual({ status: 'sent', provider_message_id: messageId });
  });

  describe('bad input: acknowledged, recorded as ignored, never a 500', () => {
    it.each<[string, string, string]>([
      ['an empty object', '{}', 'malformed'],
      ['an array', '[{"RecordType":"Delivery"}]', 'malformed'],
      ['a JSON string', '"Delivery"', 'malformed'],
      ['null', 'null', 'malformed'],
      ['a number as RecordType', '{"RecordType": 7, "MessageID": "x"}', 'malformed'],
      ['no MessageID and no metadata', '{"RecordType": "Delivery"}', 'malformed'],
      ['an unsupported record type', '{"RecordType": "SubscriptionChange", "MessageID": "abc"}', 'unsupported_record_type'],
      ['an unknown message', `{"RecordType": "Delivery", "MessageID": "${randomUUID()}", "DeliveredAt": "not a date"}`, 'unknown_message'],
      ['metadata naming an email that does not exist', `{"RecordType": "Open", "Metadata": {"${EMAIL_ID_METADATA_KEY}": "${randomUUID()}"}}`, 'unknown_message'],
      ['metadata that is not a uuid', `{"RecordType": "Open", "Metadata": {"${EMAIL_ID_METADATA_KEY}": "'; DROP TABLE emails; --"}}`, 'malformed'],
      ['deeply nested junk', `{"RecordType": "Click", "MessageID": "${'x'.repeat(5000)}", "Metadata": [1, {"a": {"b": [null]}}], "ReceivedAt": {"$gt": 1}}`, 'unknown_message'],
    ])('%s', async (_label, body, reason) => {
      const response = await hook(body);
      expect(response.statusCode).toBe(200);
      expect(response.json().outcome).toMatch(/^(ignored|duplicate)$/);
      const { rows } = await t.db.query(`SELECT outcome, ignored_reason FROM email_events WHERE outcome = 'ignored' AND ignored_reason = $1`, [reason]);
      expect(rows.length).toBeGreaterThanOrEqual(1);
    });

    it('a body that is not JSON at all is acknowledged and recorded as ignored too', async () => {
      const response = await hook('{"RecordType": "Delivery",');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ outcome: 'ignored' });
      const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM email_events WHERE ignored_reason = 'malformed' AND detail->>'bodyType' = 'unparsable'`);
      expect(rows[0].n).toBe(1);
    });

    it('a body over the 1 MiB limit is refused with 413, not parsed', async () => {
      const before = await eventCount();
      const response = await hook(JSON.stringify({ RecordType: 'Delivery', MessageID: 'x', Details: 'y'.repeat(1024 * 1024) }));
      expect(response.statusCode).toBe(413);
      expect(await eventCount()).toBe(before);
    });

    it('without credentials even garbage is a 401, and nothing is written', async () => {
      const before = await eventCount();
      expect((await hook('{"RecordType": "Delivery",', null)).statusCode).toBe(401);
      expect((await hook('{}', null)).statusCode).toBe(401);
      expect(await eventCount()).toBe(before);
    });
  });

  it('only billing and admin clear suppressions; viewers list them', async () => {
    const to = uniqueEmail('roles');
    const { messageId } = await sentEmail(to);
    await hook({ RecordType: 'SpamComplaint', Type: 'SpamComplaint', MessageID: messageId, Email: to, BouncedAt: '2026-11-20T11:00:00Z' });
    const viewerPassword = strongPassword();
    const viewerEmail = uniqueEmail('viewer');
    await inviteAndAccept(t, admin, { email: viewerEmail, password: viewerPassword }, 'viewer');
    const viewer = await mobileLogin(t, { email: viewerEmail, password: viewerPassword }, { businessId: admin.businessId });
    const listed = (await t.inject({ method: 'GET', url: '/v1/email-suppressions', headers: viewer.auth })).json().data.find((item: { address: string }) => item.address === to);
    expect(listed).toBeDefined();
    expect((await t.inject({ method: 'DELETE', url: `/v1/email-suppressions/${listed.id}`, headers: viewer.auth })).statusCode).toBe(403);

    const billingPassword = strongPassword();
    const billingEmail = uniqueEmail('billing');
    await inviteAndAccept(t, admin, { email: billingEmail, password: billingPassword }, 'billing');
    const login = await mobileLogin(t, { email: billingEmail, password: billingPassword }, { businessId: admin.businessId });
    const billing = await enrollMfa(t, { email: billingEmail, password: billingPassword, userId: '', businessId: admin.businessId, accessToken: login.accessToken, refreshToken: login.refreshToken, auth: login.auth });
    expect((await t.inject({ method: 'DELETE', url: `/v1/email-suppressions/${listed.id}`, headers: billing.auth })).statusCode).toBe(204);
    const audit = await waitFor(async () => (await t.db.query(`SELECT actor_id FROM audit_events WHERE action = 'email.suppression_cleared' AND entity_id = $1`, [listed.id])).rows[0], { what: 'the audit event' });
    expect(audit.actor_id).toBeTruthy();
  });
});
