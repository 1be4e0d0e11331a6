import { jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { addDays, todayUtc } from '../src/common/dates.js';
import { JobsService } from '../src/jobs/jobs.service.js';
import { authenticLink } from '../src/links/link-signing.js';
import { EmailOutbox } from '../src/notifications/email-outbox.service.js';
import { templates } from '../src/notifications/templates.js';
import { RemindersService } from '../src/reminders/reminders.service.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { createInvoice, get, post, seedCustomer } from './harness/invoicing.js';

const LINES = [{ description: 'Boiler service', quantity: 1, unitPrice: 12_000, taxRateBps: 0 }];

/**
 * Overdue reminders: the per-business schedule (default -3, 0, 7, 14 days at 09:00 local), one
 * reminder per invoice and stage at most, never to a suppressed address, none for a paid or void
 * invoice, at the business-local hour, and the 30-day preview.
 */
describe('overdue reminders', () => {
  let t: TestApp;
  let reminders: RemindersService;

  beforeAll(async () => {
    t = await startTestApp();
    reminders = t.app.get(RemindersService);
  });
  afterAll(async () => {
    await t?.close();
  });

  const today = todayUtc();

  /** A business whose reminders go out at 00:00 UTC, so every stage due today has passed its hour. */
  async function business(name: string, settings: Record<string, unknown> = { sendHour: 0, timeZone: 'UTC' }): Promise<TestAccount> {
    const admin = await readyAdmin(t, { businessName: name, email: uniqueEmail('rem') });
    const response = await t.inject({ method: 'PUT', url: '/v1/reminders/settings', headers: admin.auth, payload: settings });
    expect(response.statusCode).toBe(200);
    return admin;
  }

  /** A finalised (open) invoice due on `dueDate`, finalised a month ago. */
  async function openInvoice(admin: TestAccount, dueDate: string, customer: { email?: string | null } = {}): Promise<string> {
    const customerId = await seedCustomer(t, admin.businessId, { name: 'Carla Customer', email: customer.email === undefined ? uniqueEmail('carla') : customer.email });
    const issueDate = addDays(dueDate < today ? dueDate : today, -30);
    const invoice = await createInvoice(t, admin, { customerId, currency: 'EUR', issueDate, dueDate, lines: LINES });
    expect((await post(t, admin, `/v1/invoices/${invoice.id}/finalize`)).statusCode).toBe(200);
    await t.db.query(`UPDATE invoices SET finalized_at = now() - interval '60 days' WHERE id = $1`, [invoice.id]);
    return invoice.id;
  }

  const remindersOf = async (businessId: string): Promise<Array<{ invoice_id: string; stage: number; email_id: string | null }>> =>
    (await t.db.query('SELECT invoice_id::text, stage, email_id::text FROM invoice_reminders WHERE business_id = $1 ORDER BY invoice_id, stage', [businessId])).rows;

  it('has per-business settings: defaults, validation, admins only', async () => {
    const admin = await readyAdmin(t, { businessName: 'Settings Co', email: uniqueEmail('settings') });
    expect((await get(t, admin, '/v1/reminders/settings')).json()).toEqual({ enabled: true, stages: [-3, 0, 7, 14], sendHour: 9, timeZone: 'UTC' });
    const put = (payload: unknown) => t.inject({ method: 'PUT', url: '/v1/reminders/settings', headers: admin.auth, payload: payload as object });
    for (const [payload, field] of [
      [{ stages: [] }, 'stages'],
      [{ stages: [1, 1] }, 'stages'],
      [{ stages: [400] }, 'stages'],
      [{ stages: [1.5] }, 'stages'],
      [{ sendHour: 24 }, 'sendHour'],
      [{ timeZone: 'Mars/Olympus' }, 'timeZone'],
      [{ timeZone: "UTC'; DROP TABLE businesses; --" }, 'timeZone'],
      [{ unknown: true }, 'unknown'],
    ] as const) {
      const response = await put(payload);
      expect(response.statusCode).toBe(400);
      expect(response.json().errors.map((error: { field: string }) => error.field)).toContain(field);
    }
    const updated = await put({ stages: [14, -1, 5], sendHour: 8, timeZone: 'Europe/Berlin' });
    expect(updated.json()).toEqual({ enabled: true, stages: [-1, 5, 14], sendHour: 8, timeZone: 'Europe/Berlin' });
    expect((await get(t, admin, '/v1/reminders/settings')).json()).toEqual({ enabled: true, stages: [-1, 5, 14], sendHour: 8, timeZone: 'Europe/Berlin' });

    const password = strongPassword();
    const viewerEmail = uniqueEmail('viewer');
    await inviteAndAccept(t, admin, { email: viewerEmail, password }, 'viewer');
    const viewer = await mobileLogin(t, { email: viewerEmail, password }, { businessId: admin.businessId });
    expect((await t.inject({ method: 'GET', url: '/v1/reminders/settings', headers: viewer.auth })).statusCode).toBe(200);
    expect((await t.inject({ method: 'PUT', url: '/v1/reminders/settings', headers: viewer.auth, payload: { sendHour: 7 } })).statusCode).toBe(403);
    expect((await t.inject({ method: 'GET', url: '/v1/reminders/upcoming', headers: viewer.auth })).statusCode).toBe(200);
  });

  it('sends the due stage of every open invoice once, with the signed pay link; a second run sends nothing', async () => {
    const admin = await business('Reminder Plumbing');
    const expected = new Map<string, number>();
    expected.set(await openInvoice(admin, addDays(today, 3)), -3);
    expected.set(await openInvoice(admin, today), 0);
    expected.set(await openInvoice(admin, addDays(today, -7)), 7);
    expected.set(await openInvoice(admin, addDays(today, -15)), 14);
    expected.set(await openInvoice(admin, addDays(today, -2)), 0); // missed two days ago (downtime): still sent, late
    const none = [
      await openInvoice(admin, addDays(today, 10)), // nothing due yet
      await openInvoice(admin, addDays(today, -30)), // its last stage is long past
      await openInvoice(admin, addDays(today, -7), { email: null }), // nowhere to send it
    ];
    const customerId = await seedCustomer(t, admin.businessId, { email: uniqueEmail('draft') });
    const draft = await createInvoice(t, admin, { customerId, currency: 'EUR', issueDate: addDays(today, -20), dueDate: addDays(today, -7), lines: LINES });

    await reminders.scan();
    const sent = await waitFor(async () => {
      const rows = await remindersOf(admin.businessId);
      return rows.length >= expected.size && rows.every((row) => row.email_id) ? rows : undefined;
    }, { what: 'the reminders', timeoutMs: 30_000 });
    expect(new Map(sent.map((row) => [row.invoice_id, row.stage]))).toEqual(expected);
    for (const id of [...none, draft.id]) expect(sent.some((row) => row.invoice_id === id)).toBe(false);

    const { rows: emails } = await t.db.query(
      `SELECT e.id, e.subject, e.text_body, e.html_body, e.document_id::text, e.status FROM emails e JOIN invoice_reminders r ON r.email_id = e.id WHERE r.business_id = $1`,
      [admin.businessId],
    );
    expect(emails).toHaveLength(expected.size);
    for (const email of emails) {
      const url = new URL(/View and pay the invoice: (\S+)/.exec(email.text_body)![1]);
      expect(url.pathname).toBe(`/pay/${email.document_id}`);
      // Signed with the app's link keys: the links module accepts it as a pay link for this invoice.
      const verified = authenticLink('pay', email.document_id, Object.fromEntries(url.searchParams), t.config.linkSigningKeys);
      expect(verified).toBeTruthy();
      expect(JSON.stringify(verified)).toContain(email.document_id);
      expect(authenticLink('pay', email.document_id, { ...Object.fromEntries(url.searchParams), t: 'A'.repeat(24) }, t.config.linkSigningKeys)).toBeFalsy();
      expect(email.html_body).toContain(`href="${url.toString().replace(/&/g, '&amp;')}"`);
    }
    expect(emails.map((email) => email.subject).sort()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Reminder: invoice INV-\d{4}-\d{4} is due in 3 days \(Reminder Plumbing\)$/), expect.stringMatching(/is due today/), expect.stringMatching(/is 7 days overdue/), expect.stringMatching(/^Final reminder: .* is 14 days overdue/)]),
    );
    await waitFor(async () => (await t.db.query(`SELECT count(*)::int AS n FROM emails e JOIN invoice_reminders r ON r.email_id = e.id WHERE r.business_id = $1 AND e.status = 'captured'`, [admin.businessId])).rows[0].n === expected.size, { what: 'the reminders to be captured' });

    // Again, and a job run again by hand: nothing new.
    expect(await reminders.scan()).toBe(0);
    for (const [invoiceId, stage] of expected) await reminders.sendAt({ invoiceId, stage }, new Date());
    expect(await remindersOf(admin.businessId)).toHaveLength(expected.size);
    const audit = await waitFor(async () => (await t.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE business_id = $1 AND action = 'invoice.reminder_sent'`, [admin.businessId])).rows[0].n, { what: 'audit events' });
    expect(audit).toBe(expected.size);
  });

  it('two jobs for one invoice and stage at the same moment: one reminder, one email', async () => {
    const admin = await business('Racing Reminders');
    const invoiceId = await openInvoice(admin, addDays(today, -7));
    await Promise.all(Array.from({ length: 6 }, () => reminders.sendAt({ invoiceId, stage: 7 }, new Date())));
    expect(await remindersOf(admin.businessId)).toEqual([{ invoice_id: invoiceId, stage: 7, email_id: expect.any(String) }]);
    expect((await t.db.query(`SELECT count(*)::int AS n FROM emails WHERE business_id = $1 AND template = 'reminder'`, [admin.businessId])).rows[0].n).toBe(1);
    // A stage that is not the due one is refused by the job itself.
    await reminders.sendAt({ invoiceId, stage: 0 }, new Date());
    expect(await remindersOf(admin.businessId)).toHaveLength(1);
  });

  it('never reminds a suppressed address, a paid or a void invoice, or when reminders are off', async () => {
    const admin = await business('Quiet Co');
    const suppressedTo = uniqueEmail('suppressed');
    const suppressed = await openInvoice(admin, addDays(today, -7), { email: suppressedTo });
    await t.db.query(`INSERT INTO email_suppressions (business_id, address, reason) VALUES ($1, $2, 'hard_bounce')`, [admin.businessId, suppressedTo]);
    const paid = await openInvoice(admin, addDays(today, -7));
    await t.db.query(`UPDATE invoices SET status = 'paid', amount_paid = total WHERE id = $1`, [paid]);
    const voided = await openInvoice(admin, addDays(today, -7));
    expect((await post(t, admin, `/v1/invoices/${voided}/void`, { reason: 'Raised in error' })).statusCode).toBe(200);

    await reminders.scan();
    for (const invoiceId of [suppressed, paid, voided]) await reminders.sendAt({ invoiceId, stage: 7 }, new Date());
    expect(await remindersOf(admin.businessId)).toEqual([]);

    // Paid after its reminder was written but before the email went out: the email is cancelled.
    const late = await openInvoice(admin, addDays(today, -7));
    const emailId = await t.app.get(DataSource).transaction((tx) =>
      t.app.get(EmailOutbox).enqueue(tx, { businessId: admin.businessId, to: 'late@example.test', template: 'reminder', content: templates.reminder({ businessName: 'Q', customerName: 'C', number: '1', balanceDue: '1', dueDate: today, daysFromDue: 7 }), document: { type: 'invoice', id: late } }),
    );
    await t.db.query(`UPDATE invoices SET status = 'paid', amount_paid = total WHERE id = $1`, [late]);
    await t.app.get(EmailOutbox).send({ emailId });
    expect((await t.db.query('SELECT status, error_code FROM emails WHERE id = $1', [emailId])).rows[0]).toEqual({ status: 'cancelled', error_code: 'invoice_settled' });

    const off = await business('Off Co', { enabled: false, sendHour: 0 });
    const offInvoice = await openInvoice(off, addDays(today, -7));
    await reminders.scan();
    await reminders.sendAt({ invoiceId: offInvoice, stage: 7 }, new Date());
    expect(await remindersOf(off.businessId)).toEqual([]);
  });

  it('chooses by the business-local send hour', async () => {
    const admin = await business('Berlin Bakery', { sendHour: 9, timeZone: 'Europe/Berlin' });
    const dueDate = '2031-01-15';
    const invoiceId = await openInvoice(admin, dueDate);
    const dispatched = jest.spyOn(t.app.get(JobsService), 'dispatchMany');
    const stagesQueuedAt = async (instant: string): Promise<number[]> => {
      dispatched.mockClear();
      await reminders.queueDue(new Date(instant));
      return dispatched.mock.calls.flatMap((call) => (call[1] as Array<{ payload: { invoiceId: string; stage: number } }>).filter((item) => item.payload.invoiceId === invoiceId).map((item) => item.payload.stage));
    };
    try {
      // 09:00 in Berlin on 15 January is 08:00 UTC.
      expect(await stagesQueuedAt('2031-01-12T07:59:00Z')).toEqual([]);
      expect(await stagesQueuedAt('2031-01-12T08:00:00Z')).toEqual([-3]);
      expect(await stagesQueuedAt('2031-01-15T07:59:00Z')).toEqual([-3]);
      expect(await stagesQueuedAt('2031-01-15T08:00:00Z')).toEqual([0]);
      expect(await stagesQueuedAt('2031-01-22T08:00:00Z')).toEqual([7]);
    } finally {
      dispatched.mockRestore();
    }
  });

  it('previews the next 30 days in the order they go out, with what blocks one', async () => {
    const admin = await business('Preview Co', { sendHour: 9, timeZone: 'UTC' });
    const soon = await openInvoice(admin, addDays(today, 5));
    const suppressedTo = uniqueEmail('blocked');
    const blocked = await openInvoice(admin, addDays(today, 12), { email: suppressedTo });
    await t.db.query(`INSERT INTO email_suppressions (business_id, address, reason) VALUES ($1, $2, 'spam_complaint')`, [admin.businessId, suppressedTo]);
    const far = await openInvoice(admin, addDays(today, 60));

    const response = await get(t, admin, '/v1/reminders/upcoming');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ enabled: true, timeZone: 'UTC', sendHour: 9, nextCursor: null });
    const entries = body.data.map((entry: { invoiceId: string; stage: number; stageDate: string; scheduledFor: string; blockedBy: string | null }) => [entry.invoiceId, entry.stage, entry.stageDate, entry.scheduledFor, entry.blockedBy]);
    expect(entries).toEqual([
      [soon, -3, addDays(today, 2), `${addDays(today, 2)}T09:00:00.000Z`, null],
      [soon, 0, addDays(today, 5), `${addDays(today, 5)}T09:00:00.000Z`, null],
      [blocked, -3, addDays(today, 9), `${addDays(today, 9)}T09:00:00.000Z`, 'suppressed'],
      [soon, 7, addDays(today, 12), `${addDays(today, 12)}T09:00:00.000Z`, null],
      [blocked, 0, addDays(today, 12), `${addDays(today, 12)}T09:00:00.000Z`, 'suppressed'],
      [soon, 14, addDays(today, 19), `${addDays(today, 19)}T09:00:00.000Z`, null],
      [blocked, 7, addDays(today, 19), `${addDays(today, 19)}T09:00:00.000Z`, 'suppressed'],
      [blocked, 14, addDays(today, 26), `${addDays(today, 26)}T09:00:00.000Z`, 'suppressed'],
    ].sort((a, b) => String(a[2]).localeCompare(String(b[2])) || String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1])));
    expect(body.data.some((entry: { invoiceId: string }) => entry.invoiceId === far)).toBe(false);
    expect(body.data[0]).toMatchObject({ currency: 'EUR', balanceDue: 12_000, customerName: 'Carla Customer' });

    // Pages of two, in the same order.
    const pages: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: Array<{ invoiceId: string; stage: number }>; nextCursor: string | null } = (await get(t, admin, `/v1/reminders/upcoming?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json();
      pages.push(...page.data.map((entry) => [entry.invoiceId, entry.stage]));
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages).toEqual(entries.map((entry: unknown[]) => [entry[0], entry[1]]));
    expect((await get(t, admin, '/v1/reminders/upcoming?cursor=nope')).statusCode).toBe(400);

    const other = await readyAdmin(t, { businessName: 'Nosy', email: uniqueEmail('nosy') });
    expect((await get(t, other, '/v1/reminders/upcoming')).json().data).toEqual([]);
  });
});
