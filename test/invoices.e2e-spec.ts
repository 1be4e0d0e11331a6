import { startTestApp, type TestApp } from './harness/app.js';
import { AuditService } from '../src/audit/audit.service.js';
import { enrollMfa, inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { auditActions, countRows, createInvoice, get, invoiceBody, post, seedCustomer } from './harness/invoicing.js';
import { pdfText } from './support/pdf-text.js';

/**
 * Invoices through the real app and database: totals, the state machine, gap-free numbers under
 * concurrency, optimistic concurrency on edits, immutable versions, credit notes, sending, the
 * PDF, lists and the accountant's CSV export.
 */
describe('invoices', () => {
  let t: TestApp;
  let admin: TestAccount;
  let customerId: string;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await readyAdmin(t, { businessName: 'Ace Plumbing' });
    customerId = await seedCustomer(t, admin.businessId, { name: 'Carla Customer', email: 'carla@example.test' });
  });
  afterAll(async () => {
    await t?.close();
  });

  const patch = (id: string, payload: unknown, ifMatch?: string) =>
    t.inject({ method: 'PATCH', url: `/v1/invoices/${id}`, headers: { ...admin.auth, ...(ifMatch === undefined ? {} : { 'if-match': ifMatch }) }, payload: payload as object });

  describe('creating a draft', () => {
    it('computes line, tax, discount and document totals on the server (half-even per line)', async () => {
      const response = await post(t, admin, '/v1/invoices', invoiceBody(customerId));
      expect(response.statusCode).toBe(201);
      const invoice = response.json();
      expect(response.headers.etag).toBe('"1"');
      expect(invoice).toMatchObject({ status: 'draft', number: null, currency: 'EUR', issueDate: '2026-11-01', dueDate: '2026-11-30', version: 1 });
      // 2.5 × 19.99 = 49.975 → 49.98 (half-even); 20% tax of 49.98 = 9.996 → 10.00.
      expect(invoice.lines[0]).toMatchObject({ quantity: '2.5', unitPrice: 1999, subtotal: 4998, tax: 1000, total: 5998 });
      // 3 × 10.00 − 5.00 = 25.00; 8.25% of 25.00 = 2.0625 → 2.06.
      expect(invoice.lines[1]).toMatchObject({ quantity: '3', subtotal: 3000, discount: 500, discountTotal: 500, tax: 206, total: 2706 });
      expect(invoice).toMatchObject({ subtotal: 7998, discountTotal: 500, taxTotal: 1206, total: 8704, amountPaid: 0, balanceDue: 8704 });
    });

    it('spreads a document discount over the lines before tax', async () => {
      const invoice = await createInvoice(t, admin, invoiceBody(customerId, { lines: [{ description: 'A', quantity: 1, unitPrice: 1000 }, { description: 'B', quantity: 1, unitPrice: 1000 }, { description: 'C', quantity: 1, unitPrice: 1000 }], discount: 100 }));
      expect(invoice.lines.map((line: { discountTotal: number }) => line.discountTotal)).toEqual([34, 33, 33]);
      expect(invoice).toMatchObject({ discount: 100, discountTotal: 100, total: 2900 });
    });

    it('handles zero-decimal and three-decimal currencies', async () => {
      const jpy = await createInvoice(t, admin, invoiceBody(customerId, { currency: 'JPY', lines: [{ description: 'Work', quantity: '1.5', unitPrice: 333, taxRateBps: 1000 }] }));
      expect(jpy).toMatchObject({ subtotal: 500, taxTotal: 50, total: 550 });
      const bhd = await createInvoice(t, admin, invoiceBody(customerId, { currency: 'BHD', lines: [{ description: 'Work', quantity: 2, unitPrice: 1250, taxRateBps: 1000 }] }));
      expect(bhd).toMatchObject({ total: 2750 });
    });

    it('takes net days, and defaults the issue date to today', async () => {
      const invoice = await createInvoice(t, admin, { customerId, currency: 'EUR', netDays: 14, lines: [{ description: 'Work', quantity: 1, unitPrice: 100 }] });
      const today = new Date().toISOString().slice(0, 10);
      expect(invoice.issueDate).toBe(today);
      expect(invoice.dueDate).toBe(new Date(Date.parse(`${today}T00:00:00Z`) + 14 * 86_400_000).toISOString().slice(0, 10));
    });

    const line = { description: 'Work', quantity: 1, unitPrice: 100 };
    it.each<[string, Record<string, unknown>, string, string | null]>([
      ['negative unit price', { lines: [{ ...line, unitPrice: -1 }] }, 'lines[0].unitPrice', 'negative'],
      ['fractional unit price', { lines: [{ ...line, unitPrice: 1.5 }] }, 'lines[0].unitPrice', 'not_an_integer'],
      ['unit price as a decimal string', { lines: [{ ...line, unitPrice: '1.50' }] }, 'lines[0].unitPrice', 'not_an_integer'],
      ['exponent notation', { lines: [{ ...line, unitPrice: '1e3' }] }, 'lines[0].unitPrice', 'not_an_integer'],
      ['NaN as a string', { lines: [{ ...line, unitPrice: 'NaN' }] }, 'lines[0].unitPrice', 'not_an_integer'],
      ['amount of 10^12', { lines: [{ ...line, unitPrice: 1_000_000_000_000 }] }, 'lines[0].unitPrice', 'too_large'],
      ['line total of 10^12', { lines: [{ ...line, quantity: 2, unitPrice: 500_000_000_000 }] }, 'lines[0].unitPrice', 'too_large'],
      ['quantity with 5 decimals', { lines: [{ ...line, quantity: '1.00001' }] }, 'lines[0].quantity', 'too_many_decimals'],
      ['zero quantity', { lines: [{ ...line, quantity: 0 }] }, 'lines[0].quantity', 'zero'],
      ['quantity as an object', { lines: [{ ...line, quantity: { value: 1 } }] }, 'lines[0].quantity', null],
      ['tax rate above 100%', { lines: [{ ...line, taxRateBps: 10_001 }] }, 'lines[0].taxRateBps', 'invalid_tax_rate'],
      ['line discount above the subtotal', { lines: [{ ...line, discount: 101 }] }, 'lines[0].discount', 'discount_exceeds_subtotal'],
      ['document discount above the total', { discount: 5_000_000 }, 'discount', 'discount_exceeds_subtotal'],
      ['unknown currency', { currency: 'XXX' }, 'currency', 'unknown_currency'],
      ['lower-case currency', { currency: 'eur' }, 'currency', 'unknown_currency'],
      ['due date before the issue date', { issueDate: '2026-11-10', dueDate: '2026-11-09' }, 'dueDate', 'due_before_issue'],
      ['impossible date', { issueDate: '2026-02-30' }, 'issueDate', 'isCalendarDate'],
      ['both due date and net days', { netDays: 10 }, 'netDays', 'conflicting_fields'],
      ['no lines', { lines: [] }, 'lines', null],
      ['501 lines', { lines: Array.from({ length: 501 }, () => line) }, 'lines', null],
      ['an unknown property', { colour: 'red' }, 'colour', 'unknown_property'],
      ['an unknown line property', { lines: [{ ...line, sku: 'X' }] }, 'lines[0].sku', 'unknown_property'],
      ['a description too long', { lines: [{ ...line, description: 'x'.repeat(1001) }] }, 'lines[0].description', null],
    ])('refuses %s with 400 naming the field, and writes nothing', async (_name, change, field, code) => {
      const before = await countRows(t, 'invoices', admin.businessId);
      const response = await post(t, admin, '/v1/invoices', invoiceBody(customerId, { lines: [line], ...change }));
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      const problem = response.json();
      expect(problem.errors.map((error: { field: string }) => error.field)).toContain(field);
      if (code) expect(problem.errors.find((error: { field: string }) => error.field === field).code).toBe(code);
      expect(await countRows(t, 'invoices', admin.businessId)).toBe(before);
    });

    it.each([
      ['a line description', { lines: [{ description: 'Paid with 4242 4242 4242 4242', quantity: 1, unitPrice: 100 }] }, 'lines[0].description'],
      ['the notes', { notes: 'card 4000-0566-5566-5556 exp 12/29' }, 'notes'],
      ['the terms', { terms: '5555555555554444' }, 'terms'],
    ])('refuses a card number in %s (card_number_not_allowed)', async (_name, change, field) => {
      const before = await countRows(t, 'invoices', admin.businessId);
      const response = await post(t, admin, '/v1/invoices', invoiceBody(customerId, change));
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'card_number_not_allowed', errors: [expect.objectContaining({ field, code: 'card_number_not_allowed' })] });
      expect(await countRows(t, 'invoices', admin.businessId)).toBe(before);
    });

    it('answers 404 naming customerId for a customer of another business', async () => {
      const other = await readyAdmin(t, { businessName: 'Other Co' });
      const foreignCustomer = await seedCustomer(t, other.businessId);
      const response = await post(t, admin, '/v1/invoices', invoiceBody(foreignCustomer));
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'customer_not_found', errors: [expect.objectContaining({ field: 'customerId' })] });
    });
  });

  describe('finalising and numbering', () => {
    it('assigns the next number on finalise, and refuses a second finalise with 409', async () => {
      const other = await readyAdmin(t, { businessName: 'Numbers Ltd' });
      const otherCustomer = await seedCustomer(t, other.businessId);
      const draft = await createInvoice(t, other, invoiceBody(otherCustomer, { issueDate: '2026-03-04', dueDate: '2026-04-04' }));
      const response = await post(t, other, `/v1/invoices/${draft.id}/finalize`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ number: 'INV-2026-0001', status: 'open', version: 2 });
      expect(response.json().finalizedAt).toEqual(expect.any(String));
      const again = await post(t, other, `/v1/invoices/${draft.id}/finalize`);
      expect(again.statusCode).toBe(409);
      expect(again.json().code).toBe('invoice_already_finalized');
    });

    it('finalises 50 drafts concurrently into 50 consecutive, unique numbers', async () => {
      const owner = await readyAdmin(t, { businessName: 'Concurrent Co' });
      const customer = await seedCustomer(t, owner.businessId);
      const drafts = await Promise.all(Array.from({ length: 50 }, () => createInvoice(t, owner, invoiceBody(customer))));
      const results = await Promise.all(drafts.map((draft) => post(t, owner, `/v1/invoices/${draft.id}/finalize`)));
      expect(results.map((result) => result.statusCode)).toEqual(Array(50).fill(200));
      const numbers = results.map((result) => result.json().number as string).sort();
      expect(numbers).toEqual(Array.from({ length: 50 }, (_, index) => `INV-2026-${String(index + 1).padStart(4, '0')}`));
    });

    it('uses the business number format', async () => {
      const owner = await readyAdmin(t, { businessName: 'Format Co' });
      const customer = await seedCustomer(t, owner.businessId);
      const settings = await t.inject({ method: 'PATCH', url: '/v1/settings', headers: owner.auth, payload: { invoiceNumberFormat: 'F{YY}{MM}/{000000}' } });
      expect(settings.statusCode).toBe(200);
      const draft = await createInvoice(t, owner, invoiceBody(customer, { issueDate: '2027-01-15', dueDate: '2027-02-15' }));
      expect((await post(t, owner, `/v1/invoices/${draft.id}/finalize`)).json().number).toBe('F2701/000001');
      const bad = await t.inject({ method: 'PATCH', url: '/v1/settings', headers: owner.auth, payload: { invoiceNumberFormat: 'INV-{YYYY}' } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().errors[0].field).toBe('invoiceNumberFormat');
    });
  });

  describe('editing', () => {
    it('requires If-Match (428), refuses a stale version (412), and bumps the version', async () => {
      const draft = await createInvoice(t, admin, invoiceBody(customerId));
      expect((await patch(draft.id, { notes: 'Thanks' })).statusCode).toBe(428);
      const stale = await patch(draft.id, { notes: 'Thanks' }, '"7"');
      expect(stale.statusCode).toBe(412);
      expect(stale.json().code).toBe('version_mismatch');
      const ok = await patch(draft.id, { notes: 'Thanks', lines: [{ description: 'Callout', quantity: 1, unitPrice: 5000, taxRateBps: 2000 }] }, '"1"');
      expect(ok.statusCode).toBe(200);
      expect(ok.headers.etag).toBe('"2"');
      expect(ok.json()).toMatchObject({ version: 2, notes: 'Thanks', total: 6000, lines: [expect.objectContaining({ description: 'Callout' })] });
      // The first editor's second save is based on version 1: refused, nothing overwritten.
      expect((await patch(draft.id, { notes: 'Lost update' }, '"1"')).statusCode).toBe(412);
      expect((await get(t, admin, `/v1/invoices/${draft.id}`)).json().notes).toBe('Thanks');
    });

    it('stores the previous version of a finalised invoice as an immutable snapshot', async () => {
      const draft = await createInvoice(t, admin, invoiceBody(customerId));
      await patch(draft.id, { notes: 'draft edit' }, '"1"');
      const open = (await post(t, admin, `/v1/invoices/${draft.id}/finalize`)).json();
      const edited = await patch(draft.id, { dueDate: '2026-12-31', lines: [{ description: 'Revised', quantity: 2, unitPrice: 5000 }] }, `"${open.version}"`);
      expect(edited.statusCode).toBe(200);
      const versions = (await get(t, admin, `/v1/invoices/${draft.id}/versions`)).json().data;
      // Draft edits keep no history; the change of the finalised invoice does.
      expect(versions).toHaveLength(1);
      expect(versions[0]).toMatchObject({ version: open.version, changedFields: expect.arrayContaining(['dueDate', 'lines']), replacedBy: admin.userId });
      expect(versions[0].snapshot).toMatchObject({ number: open.number, total: 8704, dueDate: '2026-11-30', lines: [expect.objectContaining({ description: 'Boiler service' }), expect.anything()] });
      await expect(t.db.query('UPDATE invoice_versions SET snapshot = $1 WHERE invoice_id = $2', ['{}', draft.id])).rejects.toThrow(/immutable/);
      await expect(t.db.query('DELETE FROM invoice_versions WHERE invoice_id = $1', [draft.id])).rejects.toThrow(/immutable/);
      const actions = await auditActions(t, admin.businessId, draft.id);
      expect(actions).toEqual(['invoice.created', 'invoice.updated', 'invoice.finalized', 'invoice.updated']);
      const { rows } = await t.db.query(`SELECT detail FROM audit_events WHERE entity_id = $1 AND action = 'invoice.updated' ORDER BY seq DESC LIMIT 1`, [draft.id]);
      expect(rows[0].detail.changedFields).toEqual(expect.arrayContaining(['dueDate', 'lines']));
    });

    it('refuses to edit a paid or void invoice, and to change the currency after finalising', async () => {
      const paid = await createInvoice(t, admin, invoiceBody(customerId));
      const open = (await post(t, admin, `/v1/invoices/${paid.id}/finalize`)).json();
      expect((await patch(paid.id, { currency: 'USD' }, `"${open.version}"`)).json().code).toBe('currency_locked');
      await t.db.query(`UPDATE invoices SET amount_paid = total, status = 'paid' WHERE id = $1`, [paid.id]);
      const refused = await patch(paid.id, { notes: 'x' }, `"${open.version}"`);
      expect(refused.statusCode).toBe(409);
      expect(refused.json().code).toBe('invoice_paid');

      const draft = await createInvoice(t, admin, invoiceBody(customerId));
      const voided = await post(t, admin, `/v1/invoices/${draft.id}/void`, { reason: 'Entered twice' });
      expect(voided.json()).toMatchObject({ status: 'void', voidReason: 'Entered twice', number: null, balanceDue: 0 });
      expect((await patch(draft.id, { notes: 'x' }, `"${voided.json().version}"`)).json().code).toBe('invoice_void');
    });

    it('refuses to lower the total below what is already paid', async () => {
      const invoice = await createInvoice(t, admin, invoiceBody(customerId));
      const open = (await post(t, admin, `/v1/invoices/${invoice.id}/finalize`)).json();
      await t.db.query(`UPDATE invoices SET amount_paid = 5000, status = 'partially_paid' WHERE id = $1`, [invoice.id]);
      const response = await patch(invoice.id, { lines: [{ description: 'Small', quantity: 1, unitPrice: 100 }] }, `"${open.version}"`);
      expect(response.statusCode).toBe(409);
      expect(response.json().code).toBe('total_below_settled');
    });
  });

  describe('void and delete', () => {
    it('voids an open invoice without payments but not one with payments; keeps its number', async () => {
      const invoice = await createInvoice(t, admin, invoiceBody(customerId));
      const open = (await post(t, admin, `/v1/invoices/${invoice.id}/finalize`)).json();
      expect((await post(t, admin, `/v1/invoices/${invoice.id}/void`, {})).statusCode).toBe(400);
      const voided = await post(t, admin, `/v1/invoices/${invoice.id}/void`, { reason: 'Customer cancelled' });
      expect(voided.json()).toMatchObject({ status: 'void', number: open.number });

      const withPayment = await createInvoice(t, admin, invoiceBody(customerId));
      await post(t, admin, `/v1/invoices/${withPayment.id}/finalize`);
      await t.db.query(`UPDATE invoices SET amount_paid = 100, status = 'partially_paid' WHERE id = $1`, [withPayment.id]);
      const refused = await post(t, admin, `/v1/invoices/${withPayment.id}/void`, { reason: 'x' });
      expect(refused.statusCode).toBe(409);
      expect(refused.json().code).toBe('invoice_has_payments');
    });

    it('deletes a draft with its lines, and refuses to delete a finalised invoice', async () => {
      const draft = await createInvoice(t, admin, invoiceBody(customerId));
      expect((await t.inject({ method: 'DELETE', url: `/v1/invoices/${draft.id}`, headers: admin.auth })).statusCode).toBe(204);
      expect((await get(t, admin, `/v1/invoices/${draft.id}`)).statusCode).toBe(404);
      expect((await t.db.query('SELECT 1 FROM invoice_lines WHERE invoice_id = $1', [draft.id])).rowCount).toBe(0);
      expect(await auditActions(t, admin.businessId, draft.id)).toEqual(['invoice.created', 'invoice.deleted']);

      const open = await createInvoice(t, admin, invoiceBody(customerId));
      await post(t, admin, `/v1/invoices/${open.id}/finalize`);
      const refused = await t.inject({ method: 'DELETE', url: `/v1/invoices/${open.id}`, headers: admin.auth });
      expect(refused.statusCode).toBe(409);
      expect(refused.json().code).toBe('invoice_not_draft');
    });
  });

  describe('credit notes', () => {
    it('credits an open invoice in its own CN- sequence, reduces the balance, and never over-credits', async () => {
      const owner = await readyAdmin(t, { businessName: 'Credit Co' });
      const customer = await seedCustomer(t, owner.businessId);
      const invoice = await createInvoice(t, owner, invoiceBody(customer));
      expect((await post(t, owner, `/v1/invoices/${invoice.id}/credit-notes`, { amount: 100, reason: 'x' })).json().code).toBe('invoice_not_finalized');
      await post(t, owner, `/v1/invoices/${invoice.id}/finalize`);

      const first = await post(t, owner, `/v1/invoices/${invoice.id}/credit-notes`, { amount: 1204, reason: 'Goodwill' });
      expect(first.statusCode).toBe(201);
      // 1204 of 8704 with 1206 tax: 1204 × 1206 / 8704 = 166.8 → 167 of it is tax.
      expect(first.json()).toMatchObject({ number: expect.stringMatching(/^CN-\d{4}-0001$/), total: 1204, taxTotal: 167, subtotal: 1037, reason: 'Goodwill' });
      expect((await get(t, owner, `/v1/invoices/${invoice.id}`)).json()).toMatchObject({ creditedTotal: 1204, balanceDue: 7500, status: 'open' });

      const tooMuch = await post(t, owner, `/v1/invoices/${invoice.id}/credit-notes`, { amount: 7501, reason: 'Too much' });
      expect(tooMuch.statusCode).toBe(400);
      expect(tooMuch.json().errors[0]).toMatchObject({ field: 'amount', code: 'credit_exceeds_invoice' });

      const byLines = await post(t, owner, `/v1/invoices/${invoice.id}/credit-notes`, { lines: [{ description: 'Returned part', quantity: 1, unitPrice: 6250, taxRateBps: 2000 }], reason: 'Returned' });
      expect(byLines.json()).toMatchObject({ number: expect.stringMatching(/-0002$/), subtotal: 6250, taxTotal: 1250, total: 7500 });
      expect((await get(t, owner, `/v1/invoices/${invoice.id}`)).json()).toMatchObject({ creditedTotal: 8704, balanceDue: 0, status: 'paid' });
      expect((await post(t, owner, `/v1/invoices/${invoice.id}/credit-notes`, { amount: 1, reason: 'More' })).statusCode).toBe(400);
      expect((await post(t, owner, `/v1/invoices/${invoice.id}/credit-notes`, { amount: 1, lines: [], reason: 'Both' })).statusCode).toBe(400);
      expect((await get(t, owner, `/v1/invoices/${invoice.id}/credit-notes`)).json().data.map((note: { total: number }) => note.total)).toEqual([1204, 7500]);
      await expect(t.db.query('UPDATE credit_notes SET total = 1 WHERE invoice_id = $1', [invoice.id])).rejects.toThrow(/immutable/);
    });
  });

  describe('sending', () => {
    it('finalises a draft, records the send and queues the invoice email to the customer', async () => {
      const draft = await createInvoice(t, admin, invoiceBody(customerId));
      const response = await post(t, admin, `/v1/invoices/${draft.id}/send`);
      expect(response.statusCode).toBe(200);
      const sent = response.json();
      expect(sent).toMatchObject({ status: 'open', number: expect.stringMatching(/^INV-2026-\d{4}$/), sendCount: 1, sentAt: expect.any(String) });
      const { rows } = await t.db.query(`SELECT to_address, subject, text_body FROM emails WHERE template = 'invoice' AND subject LIKE $1`, [`%${sent.number}%`]);
      expect(rows).toHaveLength(1);
      expect(rows[0].to_address).toBe('carla@example.test');
      expect(rows[0].text_body).toContain('87.04 EUR');
      // The email carries a signed pay link that opens the customer's page.
      const link = new RegExp(`https?://[^\\s]+(/pay/${draft.id}\\?[^\\s]+)`).exec(rows[0].text_body);
      expect(link).not.toBeNull();
      const page = await t.inject({ method: 'GET', url: link![1] });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain(sent.number);
      const again = (await post(t, admin, `/v1/invoices/${draft.id}/send`)).json();
      expect(again).toMatchObject({ number: sent.number, sendCount: 2, sentAt: sent.sentAt });
      expect(await auditActions(t, admin.businessId, draft.id)).toEqual(['invoice.created', 'invoice.finalized', 'invoice.sent', 'invoice.sent']);
      // The invoice shows its newest email and, when sending failed for good, that it failed.
      const shown = (await get(t, admin, `/v1/invoices/${draft.id}`)).json();
      expect(shown.lastEmail).toMatchObject({ template: 'invoice', status: expect.stringMatching(/^(queued|sending|sent|captured)$/) });
      await t.db.query(`UPDATE emails SET status = 'failed', failed_at = now(), error_code = 'inactive_recipient' WHERE id = $1`, [shown.lastEmail.id]);
      expect((await get(t, admin, `/v1/invoices/${draft.id}`)).json().lastEmail).toMatchObject({ status: 'failed', errorCode: 'inactive_recipient', failedAt: expect.any(String) });
    });

    it('refuses to send to a customer without an email, and finalises nothing', async () => {
      const noEmail = await seedCustomer(t, admin.businessId, { name: 'No Mail', email: null });
      const draft = await createInvoice(t, admin, invoiceBody(noEmail));
      const response = await post(t, admin, `/v1/invoices/${draft.id}/send`);
      expect(response.statusCode).toBe(409);
      expect(response.json().code).toBe('customer_email_missing');
      expect((await get(t, admin, `/v1/invoices/${draft.id}`)).json()).toMatchObject({ status: 'draft', number: null });
    });
  });

  describe('viewing, PDF and audit', () => {
    it('serves a real PDF with the number and the total, and audits views and downloads', async () => {
      const invoice = await createInvoice(t, admin, invoiceBody(customerId));
      const open = (await post(t, admin, `/v1/invoices/${invoice.id}/finalize`)).json();
      const response = await t.inject({ method: 'GET', url: `/v1/invoices/${invoice.id}/pdf`, headers: admin.auth });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/pdf');
      expect(response.headers['content-disposition']).toBe(`attachment; filename="${open.number}.pdf"`);
      const text = (await pdfText(new Uint8Array(response.rawPayload))).join('\n');
      expect(text).toContain(open.number);
      expect(text).toContain('87.04 EUR');
      expect(text).toContain('Carla Customer');
      expect(text).toContain('Boiler service');
      await t.inject({ method: 'GET', url: `/v1/invoices/${invoice.id}`, headers: { ...admin.auth, 'user-agent': 'Accountant/1.0' }, remoteAddress: '203.0.113.9' });
      // Views and downloads go through the audit inbox; the worker folds them into the chain.
      await waitFor(async () => {
        const actions = await auditActions(t, admin.businessId, invoice.id);
        return actions.includes('invoice.pdf_downloaded') && actions.includes('invoice.viewed');
      }, { what: 'view and download audit events' });
      const { rows } = await t.db.query(`SELECT actor_id, ip, user_agent FROM audit_events WHERE entity_id = $1 AND action = 'invoice.viewed'`, [invoice.id]);
      expect(rows).toEqual([{ actor_id: admin.userId, ip: '203.0.113.9', user_agent: 'Accountant/1.0' }]);
      expect(await t.app.get(AuditService).verifyChain(admin.businessId)).toMatchObject({ valid: true });
      expect((await t.db.query('SELECT count(*) FROM audit_inbox')).rows[0].count).toBe('0');
    });

    it('logs no view for a foreign or unknown invoice', async () => {
      const other = await readyAdmin(t, { businessName: 'Curious Co' });
      const invoice = await createInvoice(t, admin, invoiceBody(customerId));
      expect((await get(t, other, `/v1/invoices/${invoice.id}`)).statusCode).toBe(404);
      const { rows } = await t.db.query(`SELECT count(*) FROM audit_inbox WHERE entity_id = $1`, [invoice.id]);
      const folded = await auditActions(t, other.businessId, invoice.id);
      expect([rows[0].count, folded]).toEqual(['0', []]);
    });

    it('lets a viewer read but not write', async () => {
      const viewerEmail = uniqueEmail('viewer');
      const password = strongPassword();
      await inviteAndAccept(t, admin, { email: viewerEmail, password }, 'viewer');
      const viewer = await mobileLogin(t, { email: viewerEmail, password }, { businessId: admin.businessId });
      const invoice = await createInvoice(t, admin, invoiceBody(customerId));
      expect((await get(t, viewer, `/v1/invoices/${invoice.id}`)).statusCode).toBe(200);
      expect((await get(t, viewer, '/v1/invoices')).statusCode).toBe(200);
      expect((await post(t, viewer, '/v1/invoices', invoiceBody(customerId))).statusCode).toBe(403);
      expect((await post(t, viewer, `/v1/invoices/${invoice.id}/finalize`)).statusCode).toBe(403);
    });

    it('lets a billing member create and send invoices', async () => {
      const email = uniqueEmail('billing');
      const password = strongPassword();
      await inviteAndAccept(t, admin, { email, password }, 'billing');
      const login = await mobileLogin(t, { email, password }, { businessId: admin.businessId });
      const billing = await enrollMfa(t, { email, password, userId: '', businessId: admin.businessId, accessToken: login.accessToken, refreshToken: login.refreshToken, auth: login.auth });
      const invoice = await createInvoice(t, billing, invoiceBody(customerId));
      expect((await post(t, billing, `/v1/invoices/${invoice.id}/send`)).statusCode).toBe(200);
    });
  });

  describe('lists and export', () => {
    let owner: TestAccount;
    let alpha: string;
    let beta: string;
    const ids: string[] = [];

    beforeAll(async () => {
      owner = await readyAdmin(t, { businessName: 'List Co' });
      alpha = await seedCustomer(t, owner.businessId, { name: 'Alpha' });
      beta = await seedCustomer(t, owner.businessId, { name: '=HYPERLINK("http://evil.example","Click")' });
      for (let index = 0; index < 7; index += 1) {
        const invoice = await createInvoice(t, owner, invoiceBody(index % 2 ? beta : alpha, { issueDate: `2026-0${index + 1}-10`, dueDate: `2026-0${index + 1}-20` }));
        ids.push(invoice.id);
      }
      // Finalise the first five (January to May): all overdue by now; two stay drafts.
      for (const id of ids.slice(0, 5)) await post(t, owner, `/v1/invoices/${id}/finalize`);
    });

    async function walk(query: string): Promise<string[]> {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { data: Array<{ id: string }>; nextCursor: string | null } = (await get(t, owner, `/v1/invoices?limit=3${query}${cursor ? `&cursor=${cursor}` : ''}`)).json();
        expect(page.data.length).toBeLessThanOrEqual(3);
        seen.push(...page.data.map((invoice: { id: string }) => invoice.id));
        cursor = page.nextCursor;
      } while (cursor);
      return seen;
    }

    it('walks every page newest first with no duplicates or gaps', async () => {
      expect(await walk('')).toEqual([...ids].reverse());
      expect(await walk('&sort=issueDate')).toEqual(ids);
      expect(await walk('&sort=-dueDate')).toEqual([...ids].reverse());
    });

    it('filters by status, overdue, customer, date range and number', async () => {
      expect(await walk('&status=draft')).toEqual([ids[6], ids[5]]);
      const overdue = (await get(t, owner, '/v1/invoices?status=overdue')).json().data;
      expect(overdue).toHaveLength(5);
      expect(overdue.every((invoice: { displayStatus: string; overdue: boolean }) => invoice.displayStatus === 'overdue' && invoice.overdue)).toBe(true);
      expect((await walk(`&customerId=${beta}`)).sort()).toEqual([ids[1], ids[3], ids[5]].sort());
      expect(await walk('&from=2026-02-01&to=2026-04-30&sort=issueDate')).toEqual(ids.slice(1, 4));
      const byNumber = (await get(t, owner, '/v1/invoices?q=INV-2026-0003')).json().data;
      expect(byNumber.map((invoice: { id: string }) => invoice.id)).toEqual([ids[2]]);
      expect((await get(t, owner, '/v1/invoices?q=INV-2026-000')).json().data).toHaveLength(5);
    });

    it.each([
      ['sort=total', 'sort'],
      ['sort=created_at;drop', 'sort'],
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['limit=abc', 'limit'],
      ['status=late', 'status'],
      ['from=2026-13-01', 'from'],
      ['cursor=not-a-cursor!', 'cursor'],
      [`cursor=${Buffer.from(JSON.stringify(['-createdAt', 'x', 'y'])).toString('base64url')}`, 'cursor'],
      [`sort=issueDate&cursor=${Buffer.from(JSON.stringify(['-createdAt', '2026-01-01 00:00:00+00', '00000000-0000-4000-8000-000000000000'])).toString('base64url')}`, 'cursor'],
    ])('refuses %s with 400 naming %s', async (query, field) => {
      const response = await get(t, owner, `/v1/invoices?${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.json().errors.map((error: { field: string }) => error.field)).toContain(field);
    });

    it('exports finalised invoices as CSV with formula injection escaped', async () => {
      const response = await get(t, owner, '/v1/invoices/export.csv?from=2026-01-01&to=2026-12-31');
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('text/csv');
      expect(response.headers['content-disposition']).toContain('attachment; filename="invoices-2026-01-01-2026-12-31.csv"');
      const lines = response.body.trim().split('\r\n');
      expect(lines).toHaveLength(6); // header + the five finalised invoices, no drafts
      expect(lines[1]).toContain('INV-2026-0001');
      expect(lines[1]).toContain('87.04');
      expect(lines[2]).toContain(`"'=HYPERLINK(""http://evil.example"",""Click"")"`);
      expect(response.body).not.toMatch(/(^|,)"?=HYPERLINK/m);
      expect((await get(t, owner, '/v1/invoices/export.csv?from=2026-12-31&to=2026-01-01')).statusCode).toBe(400);
      expect((await get(t, owner, '/v1/invoices/export.csv')).statusCode).toBe(400);
    });
  });

  it('answers 404, not 403, for another business’s invoice', async () => {
    const other = await readyAdmin(t, { businessName: 'Stranger Ltd' });
    const invoice = await createInvoice(t, admin, invoiceBody(customerId));
    for (const url of [`/v1/invoices/${invoice.id}`, `/v1/invoices/${invoice.id}/pdf`, `/v1/invoices/${invoice.id}/versions`, `/v1/invoices/${invoice.id}/credit-notes`]) {
      expect((await get(t, other, url)).statusCode).toBe(404);
    }
    expect((await post(t, other, `/v1/invoices/${invoice.id}/finalize`)).statusCode).toBe(404);
    expect((await get(t, admin, `/v1/invoices/${invoice.id}`)).json().status).toBe('draft');
  });
});
