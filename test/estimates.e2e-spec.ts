import { AuditService } from '../src/audit/audit.service.js';
import { EstimatesService } from '../src/invoices/estimates.service.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { auditActions, countRows, createInvoice, get, post, seedCustomer, SIMPLE_LINES } from './harness/invoicing.js';

/** A JSON answer body, loosely typed as the invoicing harness does. */
type Json = Awaited<ReturnType<typeof createInvoice>>;

const today = new Date().toISOString().slice(0, 10);
const plusDays = (date: string, days: number): string => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/** The audit actions of changes to an entity (views are folded in asynchronously: left out). */
async function changesOf(t: TestApp, businessId: string, entityId: string): Promise<string[]> {
  return (await auditActions(t, businessId, entityId)).filter((action) => !action.endsWith('.viewed'));
}

function estimateBody(customerId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { customerId, currency: 'EUR', lines: SIMPLE_LINES, ...overrides };
}

/**
 * Estimates through the real app and database: totals, EST- numbers on first send, the email,
 * the customer's answer (by the business and through the public-page service calls), expiry,
 * the one-time conversion into a draft invoice (also under concurrency), roles and tenancy.
 */
describe('estimates', () => {
  let t: TestApp;
  let admin: TestAccount;
  let customerId: string;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await readyAdmin(t, { businessName: 'Quote Masters' });
    customerId = await seedCustomer(t, admin.businessId, { name: 'Quinn Client', email: 'quinn@example.test' });
  });
  afterAll(() => t?.close());

  async function createEstimate(account: Pick<TestAccount, 'auth'>, body: Record<string, unknown>): Promise<Json> {
    const response = await post(t, account, '/v1/estimates', body);
    if (response.statusCode !== 201) throw new Error(`create estimate failed: ${response.statusCode} ${response.body}`);
    return response.json();
  }

  /** A sent estimate of the admin's business. */
  async function sentEstimate(overrides: Record<string, unknown> = {}): Promise<Json> {
    const draft = await createEstimate(admin, estimateBody(customerId, overrides));
    const sent = await post(t, admin, `/v1/estimates/${draft.id}/send`);
    expect(sent.statusCode).toBe(200);
    return sent.json();
  }

  async function acceptedEstimate(): Promise<Json> {
    const sent = await sentEstimate();
    const accepted = await post(t, admin, `/v1/estimates/${sent.id}/accept`);
    expect(accepted.statusCode).toBe(200);
    return accepted.json();
  }

  const patch = (account: Pick<TestAccount, 'auth'>, id: string, payload: unknown, ifMatch?: string) =>
    t.inject({ method: 'PATCH', url: `/v1/estimates/${id}`, headers: { ...account.auth, ...(ifMatch === undefined ? {} : { 'if-match': ifMatch }) }, payload: payload as object });
  const remove = (account: Pick<TestAccount, 'auth'>, id: string) => t.inject({ method: 'DELETE', url: `/v1/estimates/${id}`, headers: account.auth });

  describe('creating a draft', () => {
    it('computes the totals on the server, defaults the dates, and answers with an ETag', async () => {
      const response = await post(t, admin, '/v1/estimates', estimateBody(customerId, { notes: 'Valid for a month', terms: '50% upfront' }));
      expect(response.statusCode).toBe(201);
      expect(response.headers.etag).toBe('"1"');
      const estimate = response.json();
      expect(estimate).toMatchObject({
        status: 'draft', number: null, currency: 'EUR', customerId, issueDate: today, expiryDate: plusDays(today, 30), notes: 'Valid for a month', terms: '50% upfront',
        subtotal: 7998, discountTotal: 500, taxTotal: 1206, total: 8704, version: 1, sendCount: 0, sentAt: null, acceptedAt: null, convertedInvoiceId: null,
      });
      expect(estimate.lines[0]).toMatchObject({ quantity: '2.5', unitPrice: 1999, subtotal: 4998, tax: 1000, total: 5998 });
      expect(estimate.lines[1]).toMatchObject({ quantity: '3', discount: 500, discountTotal: 500, tax: 206, total: 2706 });
      expect(await changesOf(t, admin.businessId, estimate.id)).toEqual(['estimate.created']);
    });

    it('takes an expiry date or a number of valid days, and a document discount', async () => {
      const dated = await createEstimate(admin, estimateBody(customerId, { issueDate: '2027-03-01', expiryDate: '2027-03-15' }));
      expect(dated).toMatchObject({ issueDate: '2027-03-01', expiryDate: '2027-03-15' });
      const days = await createEstimate(admin, estimateBody(customerId, { issueDate: '2027-03-01', validDays: 10, discount: 704 }));
      expect(days).toMatchObject({ expiryDate: '2027-03-11', discount: 704, discountTotal: 1204 });
    });

    const line = { description: 'Work', quantity: 1, unitPrice: 100 };
    it.each<[string, Record<string, unknown>, string, string | null]>([
      ['an expiry date before the issue date', { issueDate: '2027-03-10', expiryDate: '2027-03-09' }, 'expiryDate', 'expiry_before_issue'],
      ['both an expiry date and valid days', { expiryDate: '2027-03-10', validDays: 5 }, 'validDays', 'conflicting_fields'],
      ['an impossible expiry date', { expiryDate: '2027-02-30' }, 'expiryDate', 'isCalendarDate'],
      ['valid days above a year', { validDays: 366 }, 'validDays', null],
      ['a negative unit price', { lines: [{ ...line, unitPrice: -1 }] }, 'lines[0].unitPrice', 'negative'],
      ['a zero quantity', { lines: [{ ...line, quantity: 0 }] }, 'lines[0].quantity', 'zero'],
      ['no lines', { lines: [] }, 'lines', null],
      ['an unknown currency', { currency: 'XXX' }, 'currency', 'unknown_currency'],
      ['an unknown property', { colour: 'red' }, 'colour', 'unknown_property'],
      ['an unknown line property', { lines: [{ ...line, sku: 'X' }] }, 'lines[0].sku', 'unknown_property'],
      ['a customer id that is not a uuid', { customerId: 'carla' }, 'customerId', null],
      ['a card number in a line description', { lines: [{ description: 'Card 4242 4242 4242 4242', quantity: 1, unitPrice: 100 }] }, 'lines[0].description', 'card_number_not_allowed'],
      ['a card number in the notes', { notes: 'card 4000-0566-5566-5556 exp 12/29' }, 'notes', 'card_number_not_allowed'],
      ['a card number in the terms', { terms: '5555555555554444' }, 'terms', 'card_number_not_allowed'],
    ])('refuses %s with a 400 problem naming the field, and writes nothing', async (_name, change, field, code) => {
      const estimatesNow = () => countRows(t, 'estimates', admin.businessId);
      const before = await estimatesNow();
      const response = await post(t, admin, '/v1/estimates', estimateBody(customerId, { lines: [line], ...change }));
      expect({ status: response.statusCode, type: response.headers['content-type'] }).toEqual({ status: 400, type: expect.stringContaining('application/problem+json') });
      const problem = response.json();
      const named: Array<{ code?: string }> = problem.errors.filter((error: { field: string }) => error.field === field);
      expect(named.length).toBeGreaterThan(0);
      if (code) expect(named.map((error) => error.code)).toContain(code);
      // A card number has its own top-level code, as for invoices.
      if (code === 'card_number_not_allowed') expect(problem.code).toBe(code);
      expect(await estimatesNow()).toBe(before);
    });

    it('answers 404 naming customerId for a customer of another business', async () => {
      const other = await readyAdmin(t, { businessName: 'Other Co' });
      const foreignCustomer = await seedCustomer(t, other.businessId);
      const response = await post(t, admin, '/v1/estimates', estimateBody(foreignCustomer));
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'customer_not_found', errors: [expect.objectContaining({ field: 'customerId' })] });
    });
  });

  describe('sending', () => {
    it('numbers the estimate EST-YYYY-0001 on the first send and queues the estimate email; a resend keeps the number', async () => {
      const owner = await readyAdmin(t, { businessName: 'Numbers Ltd' });
      const customer = await seedCustomer(t, owner.businessId, { email: 'numbers-client@example.test' });
      const draft = await createEstimate(owner, estimateBody(customer, { issueDate: '2027-02-01', expiryDate: '2027-12-31' }));
      const response = await post(t, owner, `/v1/estimates/${draft.id}/send`);
      expect(response.statusCode).toBe(200);
      expect(response.headers.etag).toBe('"2"');
      const sent = response.json();
      expect(sent).toMatchObject({ status: 'sent', number: 'EST-2027-0001', sendCount: 1, version: 2, sentAt: expect.any(String), lastSentAt: expect.any(String) });
      const { rows } = await t.db.query(`SELECT to_address, subject, text_body FROM emails WHERE template = 'estimate' AND business_id = $1`, [owner.businessId]);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ to_address: 'numbers-client@example.test', subject: 'Estimate EST-2027-0001 from Numbers Ltd' });
      expect(rows[0].text_body).toContain('87.04 EUR');
      expect(rows[0].text_body).toContain('2027-12-31');

      const again = (await post(t, owner, `/v1/estimates/${draft.id}/send`)).json();
      expect(again).toMatchObject({ status: 'sent', number: 'EST-2027-0001', sendCount: 2, sentAt: sent.sentAt });
      expect(await countRows(t, 'emails', owner.businessId)).toBe(2);
      const second = await createEstimate(owner, estimateBody(customer, { issueDate: '2027-02-02', expiryDate: '2027-12-31' }));
      expect((await post(t, owner, `/v1/estimates/${second.id}/send`)).json().number).toBe('EST-2027-0002');
      expect(await changesOf(t, owner.businessId, draft.id)).toEqual(['estimate.created', 'estimate.sent', 'estimate.sent']);
    });

    it('refuses to send to a customer without an email (409), and changes nothing', async () => {
      const noEmail = await seedCustomer(t, admin.businessId, { name: 'No Mail', email: null });
      const draft = await createEstimate(admin, estimateBody(noEmail));
      const emails = await countRows(t, 'emails', admin.businessId);
      const response = await post(t, admin, `/v1/estimates/${draft.id}/send`);
      expect(response.statusCode).toBe(409);
      expect(response.json().code).toBe('customer_email_missing');
      expect((await get(t, admin, `/v1/estimates/${draft.id}`)).json()).toMatchObject({ status: 'draft', number: null, sendCount: 0, version: 1 });
      expect(await countRows(t, 'emails', admin.businessId)).toBe(emails);
      expect(await changesOf(t, admin.businessId, draft.id)).toEqual(['estimate.created']);
    });
  });

  describe('editing', () => {
    it('requires If-Match (428), refuses a stale version (412), and records the changed fields', async () => {
      const draft = await createEstimate(admin, estimateBody(customerId));
      expect((await patch(admin, draft.id, { notes: 'x' })).statusCode).toBe(428);
      const stale = await patch(admin, draft.id, { notes: 'x' }, '"9"');
      expect(stale.statusCode).toBe(412);
      expect(stale.json().code).toBe('version_mismatch');
      const ok = await patch(admin, draft.id, { notes: 'Revised', validDays: 14, lines: [{ description: 'Callout', quantity: 1, unitPrice: 5000, taxRateBps: 2000 }] }, '"1"');
      expect(ok.statusCode).toBe(200);
      expect(ok.headers.etag).toBe('"2"');
      expect(ok.json()).toMatchObject({ version: 2, notes: 'Revised', expiryDate: plusDays(today, 14), total: 6000, lines: [expect.objectContaining({ description: 'Callout' })] });
      expect(ok.json().lines).toHaveLength(1);
      const bad = await patch(admin, draft.id, { expiryDate: plusDays(today, -1) }, '"2"');
      expect(bad.statusCode).toBe(400);
      expect(bad.json().errors[0]).toMatchObject({ field: 'expiryDate', code: 'expiry_before_issue' });
      const { rows } = await t.db.query(`SELECT detail FROM audit_events WHERE entity_id = $1 AND action = 'estimate.updated'`, [draft.id]);
      expect(rows).toHaveLength(1);
      expect(rows[0].detail.changedFields).toEqual(expect.arrayContaining(['notes', 'expiryDate', 'lines']));
    });

    it('edits a sent estimate keeping its number and status', async () => {
      const sent = await sentEstimate();
      const edited = await patch(admin, sent.id, { discount: 704, terms: 'Updated terms' }, `"${sent.version}"`);
      expect(edited.statusCode).toBe(200);
      expect(edited.json()).toMatchObject({ status: 'sent', number: sent.number, discount: 704, discountTotal: 1204, terms: 'Updated terms', version: sent.version + 1 });
      expect(edited.json().total).toBeLessThan(sent.total);
      expect(await changesOf(t, admin.businessId, sent.id)).toEqual(['estimate.created', 'estimate.sent', 'estimate.updated']);
    });

    it.each<[string, (id: string) => Promise<unknown>, string]>([
      ['an accepted', async (id) => post(t, admin, `/v1/estimates/${id}/accept`), 'estimate_accepted'],
      ['a declined', async (id) => post(t, admin, `/v1/estimates/${id}/decline`), 'estimate_declined'],
    ])('refuses to edit %s estimate (409)', async (_status, answer, code) => {
      const sent = await sentEstimate();
      await answer(sent.id);
      const current = (await get(t, admin, `/v1/estimates/${sent.id}`)).json();
      const refused = await patch(admin, sent.id, { notes: 'x' }, `"${current.version}"`);
      expect(refused.statusCode).toBe(409);
      expect(refused.json().code).toBe(code);
    });
  });

  describe('the customer’s answer', () => {
    it('accepts a sent estimate, recording when and from where; a later decline is refused', async () => {
      const sent = await sentEstimate();
      const response = await t.inject({ method: 'POST', url: `/v1/estimates/${sent.id}/accept`, headers: { ...admin.auth, 'user-agent': 'Tradie/2.0' }, remoteAddress: '198.51.100.7' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ status: 'accepted', acceptedAt: expect.any(String), declinedAt: null, version: sent.version + 1 });
      const { rows } = await t.db.query('SELECT accepted_ip, accepted_user_agent FROM estimates WHERE id = $1', [sent.id]);
      expect(rows[0]).toEqual({ accepted_ip: '198.51.100.7', accepted_user_agent: 'Tradie/2.0' });
      const decline = await post(t, admin, `/v1/estimates/${sent.id}/decline`);
      expect(decline.statusCode).toBe(409);
      expect(decline.json().code).toBe('estimate_accepted');
      expect((await post(t, admin, `/v1/estimates/${sent.id}/accept`)).json().code).toBe('estimate_accepted');
      expect((await post(t, admin, `/v1/estimates/${sent.id}/send`)).json().code).toBe('estimate_accepted');
      expect(await changesOf(t, admin.businessId, sent.id)).toEqual(['estimate.created', 'estimate.sent', 'estimate.accepted']);
    });

    it('declines a sent estimate; a later accept or convert is refused', async () => {
      const sent = await sentEstimate();
      const declined = await post(t, admin, `/v1/estimates/${sent.id}/decline`);
      expect(declined.statusCode).toBe(200);
      expect(declined.json()).toMatchObject({ status: 'declined', declinedAt: expect.any(String), acceptedAt: null });
      const accept = await post(t, admin, `/v1/estimates/${sent.id}/accept`);
      expect(accept.statusCode).toBe(409);
      expect(accept.json().code).toBe('estimate_declined');
      expect((await post(t, admin, `/v1/estimates/${sent.id}/convert`)).json().code).toBe('estimate_declined');
    });

    it('refuses an answer to a draft that was never sent', async () => {
      const draft = await createEstimate(admin, estimateBody(customerId));
      for (const action of ['accept', 'decline']) {
        const response = await post(t, admin, `/v1/estimates/${draft.id}/${action}`);
        expect(response.statusCode).toBe(409);
        expect(response.json().code).toBe('estimate_not_sent');
      }
    });

    it('accepts and declines through the public-page calls with the customer as the actor, and marks the first view', async () => {
      const estimates = t.app.get(EstimatesService);
      const sent = await sentEstimate();
      const viewed = await estimates.view(admin.businessId, sent.id);
      expect(viewed).toMatchObject({ id: sent.id, status: 'sent', viewedAt: null });
      await estimates.markViewed(admin.businessId, sent.id);
      const firstView = (await estimates.view(admin.businessId, sent.id)).viewedAt;
      expect(firstView).toEqual(expect.any(String));
      await estimates.markViewed(admin.businessId, sent.id);
      expect((await estimates.view(admin.businessId, sent.id)).viewedAt).toBe(firstView);

      const accepted = await estimates.acceptFromLink(admin.businessId, sent.id, { ip: '203.0.113.50', userAgent: 'CustomerBrowser/1.0' });
      expect(accepted).toMatchObject({ status: 'accepted', acceptedAt: expect.any(String) });
      const { rows } = await t.db.query('SELECT accepted_ip, accepted_user_agent FROM estimates WHERE id = $1', [sent.id]);
      expect(rows[0]).toEqual({ accepted_ip: '203.0.113.50', accepted_user_agent: 'CustomerBrowser/1.0' });
      // The customer is the actor; their IP and browser are stored sealed under their key, and shown by the audit API.
      const audit = await t.db.query(`SELECT actor_type, actor_id, ip, user_agent FROM audit_events WHERE entity_id = $1 AND action = 'estimate.accepted'`, [sent.id]);
      expect(audit.rows).toEqual([{ actor_type: 'customer', actor_id: customerId, ip: expect.stringMatching(/^pii1\./), user_agent: expect.stringMatching(/^pii1\./) }]);
      const listed = await t.inject({ method: 'GET', url: `/v1/audit-events?entityId=${sent.id}&action=estimate.accepted`, headers: admin.auth });
      expect(listed.json().data).toEqual([expect.objectContaining({ actor: { type: 'customer', id: customerId }, ip: '203.0.113.50', userAgent: 'CustomerBrowser/1.0', personalDataErased: false })]);
      await expect(estimates.declineFromLink(admin.businessId, sent.id, { ip: '203.0.113.50', userAgent: null })).rejects.toMatchObject({ status: 409, code: 'estimate_accepted' });

      const other = await sentEstimate();
      const declined = await estimates.declineFromLink(admin.businessId, other.id, { ip: '203.0.113.51', userAgent: 'CustomerBrowser/1.0' });
      expect(declined.status).toBe('declined');
      const declineAudit = await t.inject({ method: 'GET', url: `/v1/audit-events?entityId=${other.id}&action=estimate.declined`, headers: admin.auth });
      expect(declineAudit.json().data).toEqual([expect.objectContaining({ actor: { type: 'customer', id: customerId }, ip: '203.0.113.51' })]);

      const stranger = await readyAdmin(t, { businessName: 'Link Forger' });
      await expect(estimates.view(stranger.businessId, other.id)).rejects.toMatchObject({ status: 404, code: 'estimate_not_found' });
      await expect(estimates.acceptFromLink(stranger.businessId, other.id, { ip: null, userAgent: null })).rejects.toMatchObject({ status: 404, code: 'estimate_not_found' });
    });
  });

  describe('converting', () => {
    it('creates a draft invoice with the same customer, lines and totals, once', async () => {
      const accepted = await acceptedEstimate();
      const response = await post(t, admin, `/v1/estimates/${accepted.id}/convert`);
      expect(response.statusCode).toBe(201);
      const { estimate, invoice } = response.json();
      expect(estimate).toMatchObject({ id: accepted.id, status: 'converted', convertedAt: expect.any(String), convertedInvoiceId: invoice.id, version: accepted.version + 1 });
      expect(invoice).toMatchObject({ status: 'draft', number: null, customerId, currency: 'EUR', sourceEstimateId: accepted.id, subtotal: 7998, discountTotal: 500, taxTotal: 1206, total: 8704 });
      expect(invoice.lines).toEqual(accepted.lines);
      expect((await get(t, admin, `/v1/invoices/${invoice.id}`)).json()).toMatchObject({ status: 'draft', sourceEstimateId: accepted.id, total: 8704 });
      expect((await get(t, admin, `/v1/estimates/${accepted.id}`)).json()).toMatchObject({ status: 'converted', convertedInvoiceId: invoice.id });

      const again = await post(t, admin, `/v1/estimates/${accepted.id}/convert`);
      expect(again.statusCode).toBe(409);
      expect(again.json().code).toBe('estimate_already_converted');
      expect((await post(t, admin, `/v1/estimates/${accepted.id}/decline`)).json().code).toBe('estimate_converted');
      expect((await t.db.query('SELECT count(*) FROM invoices WHERE source_estimate_id = $1', [accepted.id])).rows[0].count).toBe('1');

      expect(await changesOf(t, admin.businessId, accepted.id)).toEqual(['estimate.created', 'estimate.sent', 'estimate.accepted', 'estimate.converted']);
      const { rows } = await t.db.query(`SELECT detail FROM audit_events WHERE entity_id = $1 AND action = 'estimate.converted'`, [accepted.id]);
      expect(rows[0].detail).toMatchObject({ invoiceId: invoice.id, number: accepted.number });
      expect(await changesOf(t, admin.businessId, invoice.id)).toEqual(['invoice.created']);
    });

    it('keeps a document discount through the conversion', async () => {
      const sent = await sentEstimate({ discount: 704 });
      await post(t, admin, `/v1/estimates/${sent.id}/accept`);
      const { invoice } = (await post(t, admin, `/v1/estimates/${sent.id}/convert`)).json();
      expect(invoice).toMatchObject({ discount: 704, discountTotal: 1204, total: sent.total });
      expect(invoice.lines).toEqual(sent.lines);
    });

    it('refuses to convert an estimate that is not accepted', async () => {
      const draft = await createEstimate(admin, estimateBody(customerId));
      const sent = await sentEstimate();
      for (const id of [draft.id, sent.id]) {
        const response = await post(t, admin, `/v1/estimates/${id}/convert`);
        expect(response.statusCode).toBe(409);
        expect(response.json().code).toBe('estimate_not_accepted');
      }
    });

    it('replays a create and a convert retried with the same Idempotency-Key', async () => {
      const before = await countRows(t, 'estimates', admin.businessId);
      const body = estimateBody(customerId, { notes: 'retried' });
      const first = await post(t, admin, '/v1/estimates', body, { 'idempotency-key': 'estimate-create-1' });
      const retry = await post(t, admin, '/v1/estimates', body, { 'idempotency-key': 'estimate-create-1' });
      expect([first.statusCode, retry.statusCode, retry.headers['idempotent-replayed']]).toEqual([201, 201, 'true']);
      expect(retry.json().id).toBe(first.json().id);
      expect(await countRows(t, 'estimates', admin.businessId)).toBe(before + 1);

      const accepted = await acceptedEstimate();
      const converted = await post(t, admin, `/v1/estimates/${accepted.id}/convert`, undefined, { 'idempotency-key': 'estimate-convert-1' });
      const replayed = await post(t, admin, `/v1/estimates/${accepted.id}/convert`, undefined, { 'idempotency-key': 'estimate-convert-1' });
      expect([converted.statusCode, replayed.statusCode, replayed.headers['idempotent-replayed']]).toEqual([201, 201, 'true']);
      expect(replayed.json().invoice.id).toBe(converted.json().invoice.id);
      expect((await post(t, admin, `/v1/estimates/${accepted.id}/convert`)).json().code).toBe('estimate_already_converted');
    });

    it('converts exactly once when 10 converts race', async () => {
      const accepted = await acceptedEstimate();
      const invoicesBefore = await countRows(t, 'invoices', admin.businessId);
      const results = await Promise.all(Array.from({ length: 10 }, () => post(t, admin, `/v1/estimates/${accepted.id}/convert`)));
      const statuses = results.map((result) => result.statusCode).sort();
      expect(statuses).toEqual([201, ...Array(9).fill(409)]);
      expect(results.filter((result) => result.statusCode === 409).every((result) => result.json().code === 'estimate_already_converted')).toBe(true);
      expect(await countRows(t, 'invoices', admin.businessId)).toBe(invoicesBefore + 1);
      expect((await t.db.query('SELECT count(*) FROM invoices WHERE source_estimate_id = $1', [accepted.id])).rows[0].count).toBe('1');
      expect((await changesOf(t, admin.businessId, accepted.id)).filter((action) => action === 'estimate.converted')).toHaveLength(1);
    });
  });

  describe('expiry', () => {
    it('shows a sent estimate past its expiry date as expired, refuses an answer, and stores expired', async () => {
      const sent = await sentEstimate();
      await t.db.query(`UPDATE estimates SET issue_date = $2, expiry_date = $3 WHERE id = $1`, [sent.id, plusDays(today, -40), plusDays(today, -1)]);
      const shown = await get(t, admin, `/v1/estimates/${sent.id}`);
      expect(shown.json()).toMatchObject({ status: 'expired', version: sent.version });
      expect((await t.db.query('SELECT status FROM estimates WHERE id = $1', [sent.id])).rows[0].status).toBe('sent');
      const listed = (await get(t, admin, '/v1/estimates?status=expired')).json().data.map((estimate: { id: string }) => estimate.id);
      expect(listed).toContain(sent.id);
      expect((await get(t, admin, '/v1/estimates?status=sent')).json().data.map((estimate: { id: string }) => estimate.id)).not.toContain(sent.id);

      const accept = await post(t, admin, `/v1/estimates/${sent.id}/accept`);
      expect(accept.statusCode).toBe(409);
      expect(accept.json().code).toBe('estimate_expired');
      expect((await t.db.query('SELECT status, version FROM estimates WHERE id = $1', [sent.id])).rows[0]).toEqual({ status: 'expired', version: sent.version });
      expect((await patch(admin, sent.id, { notes: 'x' }, `"${sent.version}"`)).json().code).toBe('estimate_expired');
      expect((await post(t, admin, `/v1/estimates/${sent.id}/send`)).json().code).toBe('estimate_expired');
      await expect(t.app.get(EstimatesService).acceptFromLink(admin.businessId, sent.id, { ip: null, userAgent: null })).rejects.toMatchObject({ status: 409, code: 'estimate_expired' });
      expect(await changesOf(t, admin.businessId, sent.id)).toEqual(['estimate.created', 'estimate.sent', 'estimate.expired']);
    });

    it('keeps a sent estimate open through its expiry date itself', async () => {
      const sent = await sentEstimate({ validDays: 0 });
      expect(sent).toMatchObject({ status: 'sent', expiryDate: today });
      expect((await post(t, admin, `/v1/estimates/${sent.id}/accept`)).statusCode).toBe(200);
    });
  });

  describe('deleting', () => {
    it('deletes a draft with its lines, and refuses to delete a sent estimate', async () => {
      const draft = await createEstimate(admin, estimateBody(customerId));
      expect((await remove(admin, draft.id)).statusCode).toBe(204);
      expect((await get(t, admin, `/v1/estimates/${draft.id}`)).statusCode).toBe(404);
      expect((await t.db.query('SELECT 1 FROM estimate_lines WHERE estimate_id = $1', [draft.id])).rowCount).toBe(0);
      expect(await changesOf(t, admin.businessId, draft.id)).toEqual(['estimate.created', 'estimate.deleted']);
      const sent = await sentEstimate();
      const refused = await remove(admin, sent.id);
      expect(refused.statusCode).toBe(409);
      expect(refused.json().code).toBe('estimate_not_draft');
    });
  });

  describe('lists', () => {
    const ids: string[] = [];
    let owner: TestAccount;
    let [first, second] = ['', ''];

    beforeAll(async () => {
      owner = await readyAdmin(t, { businessName: 'Quote Lists Ltd' });
      [first, second] = [await seedCustomer(t, owner.businessId, { name: 'First' }), await seedCustomer(t, owner.businessId, { name: 'Second' })];
      for (let index = 0; index < 7; index += 1) ids.push((await createEstimate(owner, estimateBody(index % 2 ? second : first))).id);
      for (const id of ids.slice(0, 3)) await post(t, owner, `/v1/estimates/${id}/send`);
    });

    async function walk(query: string): Promise<string[]> {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const response = await get(t, owner, `/v1/estimates?limit=3${query}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(response.statusCode).toBe(200);
        const page: { data: Array<{ id: string; lines?: unknown }>; nextCursor: string | null } = response.json();
        expect(page.data.length).toBeLessThanOrEqual(3);
        expect(page.data.every((estimate) => estimate.lines === undefined)).toBe(true);
        seen.push(...page.data.map((estimate) => estimate.id));
        cursor = page.nextCursor;
      } while (cursor);
      return seen;
    }

    it('walks every page newest first, and filters by status and customer', async () => {
      expect(await walk('')).toEqual([...ids].reverse());
      expect(await walk('&status=sent')).toEqual(ids.slice(0, 3).reverse());
      expect(await walk('&status=draft')).toEqual(ids.slice(3).reverse());
      expect(await walk(`&customerId=${second}`)).toEqual([ids[5], ids[3], ids[1]]);
      expect(await walk(`&customerId=${first}&status=sent`)).toEqual([ids[2], ids[0]]);
    });

    it.each([
      ['status=late', 'status'],
      ['limit=0', 'limit'],
      ['customerId=nope', 'customerId'],
      ['cursor=not-a-cursor!', 'cursor'],
      [`cursor=${Buffer.from(JSON.stringify(['-createdAt', 'x', 'y'])).toString('base64url')}`, 'cursor'],
    ])('refuses %s with 400 naming %s', async (query, field) => {
      const response = await get(t, owner, `/v1/estimates?${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.json().errors.map((error: { field: string }) => error.field)).toContain(field);
    });
  });

  describe('roles, tenancy and audit', () => {
    it('lets a viewer read but not write', async () => {
      const email = uniqueEmail('viewer');
      const password = strongPassword();
      await inviteAndAccept(t, admin, { email, password }, 'viewer');
      const viewer = await mobileLogin(t, { email, password }, { businessId: admin.businessId });
      const draft = await createEstimate(admin, estimateBody(customerId));
      const sent = await sentEstimate();
      expect((await get(t, viewer, `/v1/estimates/${draft.id}`)).statusCode).toBe(200);
      expect((await get(t, viewer, '/v1/estimates')).statusCode).toBe(200);
      expect((await post(t, viewer, '/v1/estimates', estimateBody(customerId))).statusCode).toBe(403);
      expect((await patch(viewer, draft.id, { notes: 'x' }, '"1"')).statusCode).toBe(403);
      expect((await remove(viewer, draft.id)).statusCode).toBe(403);
      for (const action of ['send', 'accept', 'decline', 'convert']) expect((await post(t, viewer, `/v1/estimates/${sent.id}/${action}`)).statusCode).toBe(403);
      expect((await get(t, admin, `/v1/estimates/${sent.id}`)).json()).toMatchObject({ status: 'sent', version: sent.version, sendCount: 1 });
      expect((await get(t, admin, `/v1/estimates/${draft.id}`)).json()).toMatchObject({ status: 'draft', version: 1 });
    });

    it('answers 404 to every route for another business’s estimate, and changes nothing', async () => {
      const stranger = await readyAdmin(t, { businessName: 'Stranger Ltd' });
      const draft = await createEstimate(admin, estimateBody(customerId));
      const sent = await sentEstimate();
      await post(t, admin, `/v1/estimates/${sent.id}/accept`);
      const state = async () => (await t.db.query('SELECT id, status, version, notes, send_count, updated_at FROM estimates WHERE id = ANY($1) ORDER BY id', [[draft.id, sent.id]])).rows;
      const before = { estimates: await state(), invoices: await countRows(t, 'invoices', admin.businessId), emails: await countRows(t, 'emails', admin.businessId) };
      for (const id of [draft.id, sent.id]) {
        const responses = [
          await get(t, stranger, `/v1/estimates/${id}`),
          await patch(stranger, id, { notes: 'Taken over' }, '"1"'),
          await patch(stranger, id, { notes: 'Taken over' }),
          await remove(stranger, id),
          ...(await Promise.all(['send', 'accept', 'decline', 'convert'].map((action) => post(t, stranger, `/v1/estimates/${id}/${action}`)))),
        ];
        for (const response of responses) {
          expect(response.statusCode).toBe(404);
          expect(response.json().code).toBe('estimate_not_found');
        }
      }
      expect((await get(t, stranger, '/v1/estimates')).json().data).toEqual([]);
      expect({ estimates: await state(), invoices: await countRows(t, 'invoices', admin.businessId), emails: await countRows(t, 'emails', admin.businessId) }).toEqual(before);
      const { rows } = await t.db.query('SELECT count(*) FROM audit_inbox WHERE entity_id = ANY($1)', [[draft.id, sent.id]]);
      expect(rows[0].count).toBe('0');
    });

    it('audits a read through the inbox, folded into the chain by the worker', async () => {
      const draft = await createEstimate(admin, estimateBody(customerId));
      await t.inject({ method: 'GET', url: `/v1/estimates/${draft.id}`, headers: { ...admin.auth, 'user-agent': 'Accountant/1.0' }, remoteAddress: '203.0.113.9' });
      await waitFor(async () => (await auditActions(t, admin.businessId, draft.id)).includes('estimate.viewed'), { what: 'the estimate.viewed audit event' });
      const { rows } = await t.db.query(`SELECT actor_type, actor_id, ip, user_agent FROM audit_events WHERE entity_id = $1 AND action = 'estimate.viewed'`, [draft.id]);
      expect(rows).toEqual([{ actor_type: 'user', actor_id: admin.userId, ip: '203.0.113.9', user_agent: 'Accountant/1.0' }]);
      expect(await t.app.get(AuditService).verifyChain(admin.businessId)).toMatchObject({ valid: true });
    });
  });
});
