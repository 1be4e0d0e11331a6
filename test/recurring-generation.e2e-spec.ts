import { jest } from '@jest/globals';
import { addDays, todayUtc } from '../src/common/dates.js';
import { JobsService } from '../src/jobs/jobs.service.js';
import { RecurringGeneration } from '../src/invoices/recurring-generation.service.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { readyAdmin, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { get, post, seedCustomer } from './harness/invoicing.js';

const LINES = [{ description: 'Monthly maintenance', quantity: 1, unitPrice: 9_900, taxRateBps: 2000 }];

/**
 * Recurring invoices: each due occurrence of an active template becomes exactly one invoice
 * (unique per template and period), sent when autoSend is on; periods missed while the service
 * was down are caught up once; periods that passed while the template was paused are not.
 */
describe('recurring invoice generation', () => {
  let t: TestApp;
  let admin: TestAccount;
  let generation: RecurringGeneration;
  const today = todayUtc();

  beforeAll(async () => {
    t = await startTestApp();
    admin = await readyAdmin(t, { businessName: 'Subscriptions Ltd', email: uniqueEmail('subs') });
    generation = t.app.get(RecurringGeneration);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A template created `createdDaysAgo` days ago (as if the service had been down since). */
  async function template(schedule: Record<string, unknown>, options: { autoSend?: boolean; createdDaysAgo?: number; email?: string | null } = {}): Promise<string> {
    const customerId = await seedCustomer(t, admin.businessId, { name: 'Regular Customer', email: options.email === undefined ? uniqueEmail('regular') : options.email });
    const response = await post(t, admin, '/v1/recurring-invoices', { customerId, currency: 'EUR', lines: LINES, netDays: 14, autoSend: options.autoSend ?? false, schedule });
    expect(response.statusCode).toBe(201);
    const id = response.json().id as string;
    if (options.createdDaysAgo) await t.db.query(`UPDATE recurring_invoices SET created_at = now() - $2 * interval '1 day' WHERE id = $1`, [id, options.createdDaysAgo]);
    return id;
  }

  const invoicesOf = async (templateId: string) =>
    (await t.db.query(
      `SELECT id::text, status, issue_date::text, due_date::text, recurring_period, send_count, total::int, created_by::text FROM invoices WHERE recurring_invoice_id = $1 ORDER BY issue_date`,
      [templateId],
    )).rows;

  it('creates one invoice per due occurrence, catching up the periods missed while the service was down, once', async () => {
    const weekly = await template({ every: 1, unit: 'week', startDate: addDays(today, -21) }, { createdDaysAgo: 22 });
    const future = await template({ every: 1, unit: 'month', startDate: addDays(today, 3) });

    const queued = await generation.scan();
    expect(queued).toBeGreaterThanOrEqual(4);
    const invoices = await waitFor(async () => {
      const rows = await invoicesOf(weekly);
      return rows.length === 4 ? rows : undefined;
    }, { what: 'four weekly invoices' });
    expect(invoices.map((invoice) => [invoice.issue_date, invoice.due_date, invoice.recurring_period, invoice.status])).toEqual([
      [addDays(today, -21), addDays(today, -7), '0', 'draft'],
      [addDays(today, -14), today, '1', 'draft'],
      [addDays(today, -7), addDays(today, 7), '2', 'draft'],
      [today, addDays(today, 14), '3', 'draft'],
    ]);
    expect(invoices.every((invoice) => invoice.total === 11_880 && invoice.created_by === admin.userId)).toBe(true);
    expect(await invoicesOf(future)).toEqual([]);

    // Caught up once, not twice: later runs add nothing.
    expect(await generation.scan()).toBe(0);
    await generation.generate({ recurringInvoiceId: weekly, occurrence: addDays(today, -7) });
    expect(await invoicesOf(weekly)).toHaveLength(4);

    const detail = await get(t, admin, `/v1/invoices/${invoices[0].id}`);
    expect(detail.json()).toMatchObject({ recurringInvoiceId: weekly, lines: [expect.objectContaining({ description: 'Monthly maintenance', unitPrice: 9_900 })] });
    const audit = (await t.db.query(`SELECT actor_type, detail FROM audit_events WHERE entity_id = $1 AND action = 'invoice.created'`, [invoices[0].id])).rows;
    expect(audit).toEqual([{ actor_type: 'system', detail: expect.objectContaining({ recurringInvoiceId: weekly, period: '0' }) }]);
  });

  it('sends each generated invoice once when autoSend is on, even when jobs race', async () => {
    const to = uniqueEmail('autosend');
    const monthly = await template({ every: 1, unit: 'month', startDate: today }, { autoSend: true, email: to });
    await Promise.all(Array.from({ length: 5 }, () => generation.generate({ recurringInvoiceId: monthly, occurrence: today })));
    const [invoice, ...others] = await invoicesOf(monthly);
    expect(others).toEqual([]);
    expect(invoice).toMatchObject({ status: 'open', send_count: 1, issue_date: today });
    const emails = await waitFor(async () => {
      const { rows } = await t.db.query(`SELECT status FROM emails WHERE to_address = $1 AND template = 'invoice'`, [to]);
      return rows.length === 1 && rows[0].status === 'captured' ? rows : undefined;
    }, { what: 'the invoice email' });
    expect(emails).toHaveLength(1);
    // The scheduler finds nothing left to do for it.
    await generation.scan();
    expect((await invoicesOf(monthly)).map((row) => row.send_count)).toEqual([1]);
  });

  it('an autoSend invoice whose customer has no email stays a draft for a person to look at', async () => {
    const monthly = await template({ every: 1, unit: 'month', startDate: today }, { autoSend: true, email: null });
    await generation.generate({ recurringInvoiceId: monthly, occurrence: today });
    expect((await invoicesOf(monthly)).map((row) => [row.status, row.send_count])).toEqual([['draft', 0]]);
  });

  it('does not generate while paused, and does not catch the paused periods up on resume', async () => {
    const weekly = await template({ every: 1, unit: 'week', startDate: addDays(today, -14) }, { createdDaysAgo: 15 });
    expect((await post(t, admin, `/v1/recurring-invoices/${weekly}/pause`)).statusCode).toBe(200);
    await generation.scan();
    await generation.generate({ recurringInvoiceId: weekly, occurrence: today });
    expect(await invoicesOf(weekly)).toEqual([]);
    expect((await t.db.query('SELECT paused_through::text FROM recurring_generation_state WHERE recurring_invoice_id = $1', [weekly])).rows).toEqual([{ paused_through: today }]);

    expect((await post(t, admin, `/v1/recurring-invoices/${weekly}/resume`)).statusCode).toBe(200);
    await generation.scan();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await invoicesOf(weekly)).toEqual([]);
    // A week later the scheduler queues that week's occurrence, and only it.
    const nextWeek = addDays(today, 7);
    const dispatched = jest.spyOn(t.app.get(JobsService), 'dispatchMany');
    try {
      await generation.queueDue(new Date(`${nextWeek}T12:00:00Z`));
      const queued = dispatched.mock.calls.flatMap((call) => (call[1] as Array<{ payload: { recurringInvoiceId: string; occurrence: string }; jobId: string }>).filter((item) => item.payload.recurringInvoiceId === weekly));
      expect(queued).toEqual([{ payload: { recurringInvoiceId: weekly, occurrence: nextWeek }, jobId: `recurring.${weekly}.3.${nextWeek.replace(/-/g, '')}12` }]);
    } finally {
      dispatched.mockRestore();
    }
  });

  it('ignores dates that are not occurrences, future dates, and deleted templates; a template without invoices can still be deleted', async () => {
    const monthly = await template({ every: 1, unit: 'month', startDate: addDays(today, -40), dayOfMonth: 1 }, { createdDaysAgo: 41 });
    await generation.generate({ recurringInvoiceId: monthly, occurrence: addDays(today, 400) });
    await generation.generate({ recurringInvoiceId: monthly, occurrence: '2020-02-30' });
    await generation.generate({ recurringInvoiceId: '00000000-0000-4000-8000-000000000000', occurrence: today });
    const stray = await template({ every: 1, unit: 'week', startDate: addDays(today, 1) });
    await t.db.query(`UPDATE recurring_invoices SET status = 'paused' WHERE id = $1`, [stray]);
    await generation.scan(); // writes its paused state row
    expect((await t.inject({ method: 'DELETE', url: `/v1/recurring-invoices/${stray}`, headers: admin.auth })).statusCode).toBe(204);
  });

  it('records the run for GET /v1/jobs/health', async () => {
    const health = (await get(t, admin, '/v1/jobs/health')).json();
    expect(health.schedules).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'recurring.scan', lastOutcome: 'ok', runs: expect.any(Number) })]));
  });
});
