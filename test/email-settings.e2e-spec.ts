import { DataSource } from 'typeorm';
import { NotificationSettingsService } from '../src/notifications/notification-settings.service.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, type TestAccount } from './harness/identity.js';
import { createInvoice, get, invoiceBody, seedCustomer } from './harness/invoicing.js';

/**
 * Review requests: off by default; a business turns them on with an https review URL; the
 * payments module queues one after a payment (NotificationSettingsService.queueReviewRequest,
 * in its transaction), at most once per invoice.
 */
describe('email settings and review requests', () => {
  let t: TestApp;
  let admin: TestAccount;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await readyAdmin(t, { businessName: 'Five Stars', email: uniqueEmail('stars') });
  });
  afterAll(async () => {
    await t?.close();
  });

  const put = (account: { auth: { authorization: string } }, payload: unknown) => t.inject({ method: 'PUT', url: '/v1/notification-settings', headers: account.auth, payload: payload as object });
  const queue = (invoiceId: string) => t.app.get(DataSource).transaction((tx) => t.app.get(NotificationSettingsService).queueReviewRequest(tx, admin.businessId, invoiceId));

  it('is off by default and takes only an https review URL', async () => {
    expect((await get(t, admin, '/v1/notification-settings')).json()).toEqual({ reviewRequestsEnabled: false, reviewUrl: null });
    for (const payload of [
      { reviewRequestsEnabled: true },
      { reviewUrl: 'http://reviews.example.test/ace' },
      { reviewUrl: 'javascript:alert(1)' },
      { reviewUrl: 'https://user:pass@reviews.example.test/' },
      { reviewUrl: 'https://reviews.example.test/a\r\nb' },
      { reviewUrl: 'not a url' },
      { reviewUrl: 42 },
      { extra: true },
    ]) {
      expect((await put(admin, payload)).statusCode).toBe(400);
    }
    const saved = await put(admin, { reviewRequestsEnabled: true, reviewUrl: 'https://reviews.example.test/five-stars?src=email' });
    expect(saved.statusCode).toBe(200);
    expect(saved.json()).toEqual({ reviewRequestsEnabled: true, reviewUrl: 'https://reviews.example.test/five-stars?src=email' });
    expect((await put(admin, { reviewUrl: null })).statusCode).toBe(400); // enabled needs a URL
  });

  it('is changed by admins only', async () => {
    const password = strongPassword();
    const email = uniqueEmail('viewer');
    await inviteAndAccept(t, admin, { email, password }, 'viewer');
    const viewer = await mobileLogin(t, { email, password }, { businessId: admin.businessId });
    expect((await t.inject({ method: 'GET', url: '/v1/notification-settings', headers: viewer.auth })).statusCode).toBe(200);
    expect((await put(viewer, { reviewRequestsEnabled: false })).statusCode).toBe(403);
  });

  it('queues one review request per paid invoice when on, none when off', async () => {
    const to = uniqueEmail('happy');
    const invoice = await createInvoice(t, admin, invoiceBody(await seedCustomer(t, admin.businessId, { name: 'Happy <Customer>', email: to })));
    const emailId = await queue(invoice.id);
    expect(emailId).toEqual(expect.any(String));
    expect(await queue(invoice.id)).toBeUndefined();
    const { rows } = await t.db.query('SELECT template, to_address, subject, html_body, document_type, document_id::text FROM emails WHERE id = $1', [emailId]);
    expect(rows[0]).toMatchObject({ template: 'reviewRequest', to_address: to, subject: 'How was your experience with Five Stars?', document_type: 'invoice', document_id: invoice.id });
    expect(rows[0].html_body).toContain('href="https://reviews.example.test/five-stars?src=email"');
    expect(rows[0].html_body).toContain('Happy &lt;Customer&gt;');

    expect((await put(admin, { reviewRequestsEnabled: false })).statusCode).toBe(200);
    const other = await createInvoice(t, admin, invoiceBody(await seedCustomer(t, admin.businessId, { email: uniqueEmail('other') })));
    expect(await queue(other.id)).toBeUndefined();
  });
});
