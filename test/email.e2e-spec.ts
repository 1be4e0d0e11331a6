import { jest } from '@jest/globals';
import { Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { JobsService } from '../src/jobs/jobs.service.js';
import { EmailDeliveryService } from '../src/notifications/email-delivery.service.js';
import { EmailOutbox } from '../src/notifications/email-outbox.service.js';
import { EMAIL_ID_METADATA_KEY } from '../src/notifications/email-transport.js';
import { templates } from '../src/notifications/templates.js';
import { JOB_TIMING } from '../src/jobs/jobs.tokens.js';
import { startFakePostmark, type Behaviour, type FakePostmark } from './fakes/fake-postmark.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { createInvoice, get, invoiceBody, post, seedCustomer } from './harness/invoicing.js';

// The email queue's production backoff is 5 s, 10 s, 20 s; here 100 ms, 200 ms, 400 ms, so a
// suite can watch all four attempts. Production code never provides this token.
@Global()
@Module({ providers: [{ provide: JOB_TIMING, useValue: { backoffDelayMs: { email: 100 } } }], exports: [JOB_TIMING] })
class FastEmailRetries {}

interface EmailRow {
  id: string;
  status: string;
  attempts: number;
  provider_message_id: string | null;
  error_code: string | null;
  last_error: string | null;
  template: string;
  to_address: string;
}

/**
 * Sending through the official postmark client to a fake Postmark: what is sent, at most once
 * per row, the retry policy (500, 429: retried with backoff; 422 inactive or invalid: failed at
 * once; after four attempts: failed, admins alerted, visible on the document), suppression, and
 * the sweeper's two jobs (rows never queued; rows stuck in `sending`).
 */
describe('email through Postmark', () => {
  let t: TestApp;
  let postmark: FakePostmark;
  let admin: TestAccount;
  let outbox: EmailOutbox;

  beforeAll(async () => {
    postmark = await startFakePostmark();
    t = await startTestApp({ env: { POSTMARK_SERVER_TOKEN: postmark.token, POSTMARK_API_BASE: postmark.url, EMAIL_FROM: 'Ledgerline <billing@ledgerline.test>' }, extraModules: [FastEmailRetries] });
    admin = await readyAdmin(t, { businessName: 'Ace Plumbing', email: uniqueEmail('ace-admin') });
    outbox = t.app.get(EmailOutbox);
  });
  afterAll(async () => {
    await t?.close();
    await postmark?.close();
  });

  const row = async (id: string): Promise<EmailRow> => (await t.db.query<EmailRow>('SELECT * FROM emails WHERE id = $1', [id])).rows[0];
  const settled = (id: string, ...statuses: string[]) => waitFor(async () => {
    const current = await row(id);
    return statuses.includes(current.status) ? current : undefined;
  }, { timeoutMs: 30_000, what: `email ${id} to be ${statuses.join(' or ')}` });

  /** An email row about an invoice, written and dispatched as a business would. */
  async function queueEmail(to: string, document?: { type: 'invoice'; id: string }): Promise<string> {
    const id = await t.app.get(DataSource).transaction((tx) =>
      outbox.enqueue(tx, { businessId: admin.businessId, to, template: 'invoice', content: templates.invoice({ businessName: 'Ace Plumbing', customerName: 'Carla', number: 'INV-1', total: '10.00 EUR', balanceDue: '10.00 EUR', dueDate: '2026-12-01' }), document }),
    );
    await outbox.dispatch([id]);
    return id;
  }

  async function sendInvoiceTo(email: string): Promise<{ invoiceId: string; emailId: string }> {
    const customerId = await seedCustomer(t, admin.businessId, { name: 'Carla Customer', email });
    const invoice = await createInvoice(t, admin, invoiceBody(customerId));
    const sent = await post(t, admin, `/v1/invoices/${invoice.id}/send`);
    expect(sent.statusCode).toBe(200);
    const { rows } = await t.db.query<{ id: string }>(`SELECT id FROM emails WHERE business_id = $1 AND to_address = $2 AND template = 'invoice' ORDER BY created_at DESC LIMIT 1`, [admin.businessId, email]);
    return { invoiceId: invoice.id, emailId: rows[0].id };
  }

  it('sends an invoice with the official client: stream outbound, tracking on, our id in the metadata, MessageID stored', async () => {
    const to = uniqueEmail('carla');
    const { emailId } = await sendInvoiceTo(to);
    const sent = await settled(emailId, 'sent');
    const [message] = postmark.acceptedFor(emailId);
    expect(message).toMatchObject({ To: to, From: 'Ledgerline <billing@ledgerline.test>', MessageStream: 'outbound', TrackOpens: true, TrackLinks: 'HtmlAndText', Tag: 'invoice' });
    expect(message.Metadata).toEqual({ [EMAIL_ID_METADATA_KEY]: emailId });
    expect(message.Subject).toMatch(/^Invoice INV-\d{4}-\d{4} from Ace Plumbing$/);
    expect(message.HtmlBody).toContain('<p>');
    expect(sent).toMatchObject({ status: 'sent', attempts: 1, provider_message_id: message.MessageID });

    const list = await get(t, admin, '/v1/emails?template=invoice');
    expect(list.statusCode).toBe(200);
    const listed = list.json().data.find((email: { id: string }) => email.id === emailId);
    expect(listed).toMatchObject({ to, template: 'invoice', status: 'sent', attempts: 1, deliveryState: null });
    expect(listed).not.toHaveProperty('textBody');
  });

  it.each<[string, Behaviour[], number, string]>([
    ['500, then 200: sent on attempt 2', ['error500'], 2, 'sent'],
    ['429, 503, then 200: sent on attempt 3', ['rateLimited', 'error503'], 3, 'sent'],
    ['500 four times: failed after attempt 4', ['error500', 'error500', 'error500', 'error500'], 4, 'failed'],
    ['429 four times: failed after attempt 4', ['rateLimited', 'rateLimited', 'rateLimited', 'rateLimited'], 4, 'failed'],
  ])('retries transient errors with exponential backoff (%s)', async (_label, behaviours, attempts, status) => {
    const to = uniqueEmail('retry');
    postmark.script(to, ...behaviours);
    const emailId = await queueEmail(to);
    const final = await settled(emailId, status);
    expect(final.attempts).toBe(attempts);
    const tries = postmark.requests.filter((request) => request.emailId === emailId);
    expect(tries).toHaveLength(attempts);
    expect(postmark.acceptedFor(emailId)).toHaveLength(status === 'sent' ? 1 : 0);
    // 100 ms, 200 ms, 400 ms between attempts (the test timing; production: 5 s, 10 s, 20 s).
    tries.slice(1).forEach((request, index) => expect(request.at - tries[index].at).toBeGreaterThanOrEqual(90 * 2 ** index));
    if (status === 'failed') expect(final.error_code).toMatch(/^(provider_unavailable|rate_limited)$/);
  });

  it.each<[string, Behaviour, string]>([
    ['422 inactive recipient (ErrorCode 406)', 'inactive', 'inactive_recipient'],
    ['422 invalid request (ErrorCode 300)', 'invalid', 'invalid_address'],
  ])('fails a permanent error at once: %s', async (_label, behaviour, code) => {
    const to = uniqueEmail('permanent');
    postmark.script(to, behaviour);
    const emailId = await queueEmail(to);
    const final = await settled(emailId, 'failed');
    expect(final).toMatchObject({ attempts: 1, error_code: code });
    expect(final.last_error).not.toContain(to); // Postmark's message names the address; ours does not
    // Still one request a while later: nothing retries a permanent failure.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(postmark.requests.filter((request) => request.emailId === emailId)).toHaveLength(1);
  });

  it('after the last attempt: failed, visible on the invoice, the admins alerted; an inactive recipient is suppressed', async () => {
    const to = uniqueEmail('bounced');
    const customerId = await seedCustomer(t, admin.businessId, { name: 'Dora', email: to });
    const invoice = await createInvoice(t, admin, invoiceBody(customerId));
    // Postmark lists the address as inactive (an earlier hard bounce): every send to it answers 406.
    postmark.suppress(to, 'HardBounce');
    const emailId = await queueEmail(to, { type: 'invoice', id: invoice.id });
    await settled(emailId, 'failed');

    const delivery = await t.app.get(EmailDeliveryService).forDocument(admin.businessId, 'invoice', invoice.id, to);
    expect(delivery.lastFailure).toMatchObject({ id: emailId, status: 'failed', errorCode: 'inactive_recipient', document: { type: 'invoice', id: invoice.id } });
    expect(delivery.suppression).toMatchObject({ address: to, reason: 'inactive_recipient', emailId });

    const alert = await waitFor(async () => (await t.db.query(`SELECT subject, text_body, status FROM emails WHERE template = 'deliveryFailed' AND to_address = $1 AND text_body LIKE $2`, [admin.email, `%${to}%`])).rows[0], { what: 'the admin alert' });
    expect(alert.subject).toBe('An email from Ace Plumbing could not be delivered');
    await waitFor(async () => postmark.accepted.some((message) => message.To === admin.email && message.Tag === 'deliveryFailed'), { what: 'the alert to be sent' });

    // The next email to that address is not sent at all.
    const next = await queueEmail(to);
    expect(await settled(next, 'suppressed')).toMatchObject({ attempts: 1, error_code: 'suppressed_inactive_recipient' });
    expect(postmark.requests.filter((request) => request.emailId === next)).toHaveLength(0);

    // Until a member clears it, which reactivates it at Postmark too (else the next send would fail
    // again). Postmark unreachable: 503, nothing cleared, so the member can simply try again.
    const suppressions = await get(t, admin, '/v1/email-suppressions');
    const suppression = suppressions.json().data.find((item: { address: string }) => item.address === to);
    postmark.failReactivations(1);
    const unreachable = await t.inject({ method: 'DELETE', url: `/v1/email-suppressions/${suppression.id}`, headers: admin.auth });
    expect({ status: unreachable.statusCode, code: unreachable.json().code }).toEqual({ status: 503, code: 'provider_unavailable' });
    expect((await get(t, admin, '/v1/email-suppressions')).json().data.some((item: { id: string }) => item.id === suppression.id)).toBe(true);
    expect(postmark.suppressed.has(to)).toBe(true);

    expect((await t.inject({ method: 'DELETE', url: `/v1/email-suppressions/${suppression.id}`, headers: admin.auth })).statusCode).toBe(204);
    expect(postmark.suppressed.has(to)).toBe(false);
    expect(postmark.reactivations.filter((address) => address === to)).toHaveLength(1);
    expect((await t.inject({ method: 'DELETE', url: `/v1/email-suppressions/${suppression.id}`, headers: admin.auth })).statusCode).toBe(404);
    const after = await queueEmail(to);
    await settled(after, 'sent');
    const { rows: cleared } = await t.db.query(`SELECT detail FROM audit_events WHERE action = 'email.suppression_cleared' AND entity_id = $1`, [suppression.id]);
    expect(cleared).toEqual([{ detail: { reason: 'inactive_recipient', provider: 'reactivated' } }]);
  });

  it('keeps a suppression that Postmark will not lift (a spam complaint): 409, still listed, nothing sent', async () => {
    const to = uniqueEmail('complained');
    postmark.suppress(to, 'SpamComplaint');
    const emailId = await queueEmail(to);
    await settled(emailId, 'failed');
    const suppression = (await get(t, admin, '/v1/email-suppressions')).json().data.find((item: { address: string }) => item.address === to);
    expect(suppression).toMatchObject({ reason: 'inactive_recipient' });
    const refused = await t.inject({ method: 'DELETE', url: `/v1/email-suppressions/${suppression.id}`, headers: admin.auth });
    expect({ status: refused.statusCode, code: refused.json().code }).toEqual({ status: 409, code: 'suppressed_at_provider' });
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect((await get(t, admin, '/v1/email-suppressions')).json().data.some((item: { id: string }) => item.id === suppression.id)).toBe(true);
    const next = await queueEmail(to);
    expect(await settled(next, 'suppressed')).toMatchObject({ error_code: 'suppressed_inactive_recipient' });
  });

  it('after an attempt that got no answer, searches Postmark by metadata before sending again: sent once', async () => {
    const to = uniqueEmail('dropped');
    postmark.script(to, 'acceptThenDrop');
    const emailId = await queueEmail(to);
    const final = await settled(emailId, 'sent');
    expect(postmark.acceptedFor(emailId)).toHaveLength(1);
    expect(final.provider_message_id).toBe(postmark.acceptedFor(emailId)[0].MessageID);
    expect(final.attempts).toBe(2);
    expect(postmark.requests.filter((request) => request.emailId === emailId)).toHaveLength(1);
    expect(postmark.searches.some((search) => search[`metadata_${EMAIL_ID_METADATA_KEY}`] === emailId)).toBe(true);
  });

  it('sends each row at most once however many jobs it gets', async () => {
    const to = uniqueEmail('many-jobs');
    postmark.script(to, 'acceptThenHold');
    const emailId = await queueEmail(to);
    await postmark.waitFor('the send to be in flight', () => postmark.requests.some((request) => request.emailId === emailId));
    // More jobs for the same row while its send is in flight: none of them may send it.
    for (let i = 0; i < 5; i += 1) await t.app.get(JobsService).dispatch('email.send', { emailId }, { jobId: `email.${emailId}.extra.${i}` });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    postmark.release();
    await settled(emailId, 'sent');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(postmark.requests.filter((request) => request.emailId === emailId)).toHaveLength(1);
  });

  describe('rows never queued, and rows abandoned mid-send', () => {
    it('queues rows that were never queued (crash between commit and enqueue), and only those', async () => {
      const to = uniqueEmail('orphan');
      const emailId = await t.app.get(DataSource).transaction((tx) =>
        outbox.enqueue(tx, { businessId: admin.businessId, to, template: 'invoice', content: templates.invoice({ businessName: 'Ace', customerName: 'C', number: 'INV-9', total: '1', balanceDue: '1', dueDate: '2026-12-01' }) }),
      );
      // Within the grace period nothing happens (the normal dispatch may still be coming).
      await outbox.sweep();
      expect((await row(emailId)).status).toBe('queued');
      await outbox.sweep({ graceMs: 0 });
      await settled(emailId, 'sent');
      expect(postmark.acceptedFor(emailId)).toHaveLength(1);
    });

    it('resolves a row stuck in sending: Postmark has it → sent with its MessageID, not sent again', async () => {
      const to = uniqueEmail('stuck-found');
      const emailId = await t.app.get(DataSource).transaction((tx) =>
        outbox.enqueue(tx, { businessId: admin.businessId, to, template: 'invoice', content: templates.invoice({ businessName: 'Ace', customerName: 'C', number: 'INV-10', total: '1', balanceDue: '1', dueDate: '2026-12-01' }) }),
      );
      // A worker claimed it, Postmark accepted it, and the worker died before recording that.
      await t.db.query(`UPDATE emails SET status = 'sending', sending_at = now() - interval '10 minutes', attempts = 1 WHERE id = $1`, [emailId]);
      const seeded = postmark.seedAccepted({ To: to, Metadata: { [EMAIL_ID_METADATA_KEY]: emailId } });
      await outbox.sweep();
      expect((await settled(emailId, 'sent')).provider_message_id).toBe(seeded.MessageID);
      expect(postmark.requests.filter((request) => request.emailId === emailId)).toHaveLength(0);
    });

    it('Postmark accepted it but recording that failed: the row stays sending, and is resolved without a second send', async () => {
      const to = uniqueEmail('unrecorded');
      const finish = jest.spyOn(EmailOutbox.prototype as unknown as { finish: () => Promise<void> }, 'finish').mockRejectedValueOnce(new Error('connection terminated'));
      try {
        const emailId = await queueEmail(to);
        await postmark.waitFor('the send', () => postmark.acceptedFor(emailId).length === 1);
        await waitFor(async () => finish.mock.calls.length >= 1, { what: 'the failed record' });
        await new Promise((resolve) => setTimeout(resolve, 1_000)); // its retries come and go
        expect((await row(emailId)).status).toBe('sending');
        await outbox.sweep({ staleSendingMs: 0 });
        expect((await settled(emailId, 'sent')).provider_message_id).toBe(postmark.acceptedFor(emailId)[0].MessageID);
        expect(postmark.requests.filter((request) => request.emailId === emailId)).toHaveLength(1);
      } finally {
        finish.mockRestore();
      }
    });

    it('a send job that finds its row abandoned in sending (older than the timeout) resolves it by the search too', async () => {
      const to = uniqueEmail('stuck-job');
      const emailId = await t.app.get(DataSource).transaction((tx) =>
        outbox.enqueue(tx, { businessId: admin.businessId, to, template: 'invoice', content: templates.invoice({ businessName: 'Ace', customerName: 'C', number: 'INV-12', total: '1', balanceDue: '1', dueDate: '2026-12-01' }) }),
      );
      await t.db.query(`UPDATE emails SET status = 'sending', sending_at = now() - interval '6 minutes', attempts = 1 WHERE id = $1`, [emailId]);
      const seeded = postmark.seedAccepted({ To: to, Metadata: { [EMAIL_ID_METADATA_KEY]: emailId } });
      // As when BullMQ hands a dead worker's job to a live one.
      await t.app.get(JobsService).dispatch('email.send', { emailId }, { jobId: `email.${emailId}.stalled` });
      expect((await settled(emailId, 'sent')).provider_message_id).toBe(seeded.MessageID);
      expect(postmark.requests.filter((request) => request.emailId === emailId)).toHaveLength(0);
    });

    it('resolves a row stuck in sending: Postmark does not have it → sent once', async () => {
      const to = uniqueEmail('stuck-lost');
      const emailId = await t.app.get(DataSource).transaction((tx) =>
        outbox.enqueue(tx, { businessId: admin.businessId, to, template: 'invoice', content: templates.invoice({ businessName: 'Ace', customerName: 'C', number: 'INV-11', total: '1', balanceDue: '1', dueDate: '2026-12-01' }) }),
      );
      await t.db.query(`UPDATE emails SET status = 'sending', sending_at = now() - interval '1 minute', attempts = 1 WHERE id = $1`, [emailId]);
      // Not stale yet under the production threshold (5 minutes): left alone.
      await outbox.sweep();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await row(emailId)).status).toBe('sending');
      await outbox.sweep({ staleSendingMs: 30_000 });
      await settled(emailId, 'sent');
      expect(postmark.acceptedFor(emailId)).toHaveLength(1);
      expect((await row(emailId)).attempts).toBe(2);
    });
  });

  it('GET /v1/emails is for admins; the list is the business’s own', async () => {
    const password = strongPassword();
    const viewerEmail = uniqueEmail('viewer');
    await inviteAndAccept(t, admin, { email: viewerEmail, password }, 'viewer');
    const viewer = await mobileLogin(t, { email: viewerEmail, password }, { businessId: admin.businessId });
    expect((await t.inject({ method: 'GET', url: '/v1/emails', headers: viewer.auth })).statusCode).toBe(403);
    const other = await readyAdmin(t, { businessName: 'Other Co', email: uniqueEmail('other') });
    const theirs = (await get(t, other, '/v1/emails')).json().data as Array<{ to: string }>;
    expect(theirs.every((email) => !email.to.includes('retry-'))).toBe(true);
    const mine = (await get(t, admin, '/v1/emails?limit=2')).json();
    expect(mine.data).toHaveLength(2);
    expect(mine.nextCursor).toEqual(expect.any(String));
    const page2 = await get(t, admin, `/v1/emails?limit=2&cursor=${mine.nextCursor}`);
    expect(page2.statusCode).toBe(200);
    expect(page2.json().data[0].id).not.toBe(mine.data[0].id);
    expect((await get(t, admin, '/v1/emails?cursor=bogus')).statusCode).toBe(400);
    const one = await get(t, admin, `/v1/emails/${mine.data[0].id}`);
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ id: mine.data[0].id, events: [] });
    expect((await get(t, other, `/v1/emails/${mine.data[0].id}`)).statusCode).toBe(404);
  });

  it('GET /v1/jobs/health (admin): queues, schedules, this business’s outbox', async () => {
    const health = await get(t, admin, '/v1/jobs/health');
    expect(health.statusCode).toBe(200);
    const body = health.json();
    expect(body.backend).toBe(process.env.REDIS_URL ? 'redis' : 'postgres');
    expect(body.queues.email).toEqual({ waiting: expect.any(Number), active: expect.any(Number), delayed: expect.any(Number), failed: expect.any(Number) });
    expect(body.queues.email.failed).toBeGreaterThanOrEqual(1);
    expect(body.outbox).toMatchObject({ queued: expect.any(Number), sending: expect.any(Number), failedLast7Days: expect.any(Number) });
    expect(body.outbox.failedLast7Days).toBeGreaterThanOrEqual(3);
    expect(Array.isArray(body.schedules)).toBe(true);
    expect(JSON.stringify(body)).not.toContain('@');
  });
});
