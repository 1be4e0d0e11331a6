import { startTestApp, type TestApp } from './harness/app.js';
import { ledgerMismatches } from './harness/payments.js';
import { enrollMfa, inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { createInvoice, get, invoiceBody, post, seedCustomer } from './harness/invoicing.js';

/**
 * Manual payments (cash, cheque, bank transfer) and mark-paid through the real app and database:
 * the required Idempotency-Key, exactly-once under concurrency, overpayments as customer credit,
 * receipts, roles, tenancy and bad input.
 */
describe('payments', () => {
  let t: TestApp;
  let admin: TestAccount;
  let billing: TestAccount;
  let viewer: TestAccount;
  let customerId: string;
  let keyCounter = 0;
  const key = () => `key-${process.pid}-${(keyCounter += 1)}`;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await readyAdmin(t, { businessName: 'Ace Plumbing' });
    customerId = await seedCustomer(t, admin.businessId, { name: 'Carla Customer', email: 'carla@example.test' });
    billing = await member(admin, 'billing');
    viewer = await member(admin, 'viewer');
  });
  afterEach(async () => {
    expect(await ledgerMismatches(t)).toEqual([]);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function member(by: TestAccount, role: 'billing' | 'viewer'): Promise<TestAccount> {
    const invitee = { email: uniqueEmail(role), password: strongPassword() };
    const joined = await inviteAndAccept(t, by, invitee, role);
    const session = await mobileLogin(t, invitee);
    const account: TestAccount = { ...invitee, userId: joined.userId, businessId: joined.businessId, accessToken: session.accessToken, refreshToken: session.refreshToken, auth: session.auth };
    return role === 'viewer' ? account : enrollMfa(t, account);
  }

  async function openInvoice(total = 10_000): Promise<string> {
    const invoice = await createInvoice(t, admin, invoiceBody(customerId, { lines: [{ description: 'Work', quantity: 1, unitPrice: total }] }));
    expect((await post(t, admin, `/v1/invoices/${invoice.id}/finalize`)).statusCode).toBe(200);
    return invoice.id;
  }

  const pay = (invoiceId: string, body: Record<string, unknown>, idempotencyKey: string | null = key(), account: { auth: { authorization: string } } = admin) =>
    post(t, account, `/v1/invoices/${invoiceId}/payments`, body, idempotencyKey === null ? {} : { 'idempotency-key': idempotencyKey });
  const cash = (amount: number | string) => ({ amount, method: 'cash', receivedOn: '2026-11-20' });

  async function invoice(id: string): Promise<{ status: string; amountPaid: number; balanceDue: number; [key: string]: unknown }> {
    return (await get(t, admin, `/v1/invoices/${id}`)).json();
  }

  it('records a cash payment: 201, invoice partially paid, receipt email, audit event', async () => {
    const id = await openInvoice(10_000);
    const response = await pay(id, { amount: 4_000, method: 'cheque', reference: 'CHQ 000123', receivedOn: '2026-11-20' });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ invoiceId: id, provider: 'manual', method: 'cheque', amount: 4_000, currency: 'EUR', reference: 'CHQ 000123', receivedOn: '2026-11-20', card: null, refundableAmount: 4_000, refunds: [] });
    expect(await invoice(id)).toMatchObject({ status: 'partially_paid', amountPaid: 4_000, balanceDue: 6_000 });
    const email = await waitFor(async () => (await t.db.query("SELECT text_body, status FROM emails WHERE template = 'receipt' AND text_body LIKE '%40.00 EUR (cheque)%'")).rows[0]);
    expect(email.text_body).toContain('Balance still due: 60.00 EUR');
    const { rows } = await t.db.query("SELECT actor_type, actor_id, detail FROM audit_events WHERE entity_id = $1 AND action = 'invoice.payment_recorded'", [id]);
    expect(rows).toEqual([{ actor_type: 'user', actor_id: admin.userId, detail: expect.objectContaining({ amount: 4_000, method: 'cheque', amountPaid: 4_000, status: 'partially_paid' }) }]);
  });

  describe('Idempotency-Key', () => {
    it('is required: 428 without it, and nothing is recorded', async () => {
      const id = await openInvoice();
      const response = await pay(id, cash(100), null);
      expect(response.statusCode).toBe(428);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json().code).toBe('idempotency_key_required');
      expect((await invoice(id)).amountPaid).toBe(0);
    });

    it('replays a retry with the same key and body, refuses the key with another body', async () => {
      const id = await openInvoice();
      const idempotencyKey = key();
      const first = await pay(id, cash(1_000), idempotencyKey);
      const retry = await pay(id, cash(1_000), idempotencyKey);
      expect([first.statusCode, retry.statusCode]).toEqual([201, 201]);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(retry.json().id).toBe(first.json().id);
      expect((await pay(id, cash(2_000), idempotencyKey)).statusCode).toBe(422);
      expect((await invoice(id)).amountPaid).toBe(1_000);
    });

    it('records once when ten retries with one key race', async () => {
      const id = await openInvoice();
      const idempotencyKey = key();
      const responses = await Promise.all(Array.from({ length: 10 }, () => pay(id, cash(700), idempotencyKey)));
      expect(responses.filter((response) => response.statusCode === 201).length).toBeGreaterThanOrEqual(1);
      expect(responses.every((response) => [201, 409].includes(response.statusCode))).toBe(true);
      expect((await invoice(id)).amountPaid).toBe(700);
    });

    it('stays exactly-once after the replay window: the key is the payment’s own id', async () => {
      const id = await openInvoice();
      const idempotencyKey = key();
      expect((await pay(id, cash(500), idempotencyKey)).statusCode).toBe(201);
      await t.db.query('DELETE FROM idempotency_keys WHERE key = $1', [idempotencyKey]);
      const again = await pay(id, cash(500), idempotencyKey);
      expect(again.statusCode).toBe(201);
      expect((await invoice(id)).amountPaid).toBe(500);
      const other = await openInvoice();
      await t.db.query('DELETE FROM idempotency_keys WHERE key = $1', [idempotencyKey]);
      expect((await pay(other, cash(500), idempotencyKey)).statusCode).toBe(422);
      expect((await invoice(other)).amountPaid).toBe(0);
    });
  });

  it('applies 20 concurrent partial payments: amount paid is their sum', async () => {
    const amounts = Array.from({ length: 20 }, (_, index) => (index + 1) * 50);
    const total = amounts.reduce((sum, amount) => sum + amount, 0);
    const id = await openInvoice(total);
    const responses = await Promise.all(amounts.map((amount) => pay(id, cash(amount))));
    expect(responses.map((response) => response.statusCode)).toEqual(Array(20).fill(201));
    expect(await invoice(id)).toMatchObject({ status: 'paid', amountPaid: total, balanceDue: 0 });
    const list = (await get(t, viewer, `/v1/invoices/${id}/payments`)).json();
    expect(list.data).toHaveLength(20);
    expect(list).toMatchObject({ amountPaid: total, overpaymentCredit: 0 });
  });

  it('keeps an overpayment as a customer credit, never lost', async () => {
    const id = await openInvoice(10_000);
    expect((await pay(id, cash(12_500))).statusCode).toBe(201);
    expect(await invoice(id)).toMatchObject({ status: 'paid', amountPaid: 12_500, balanceDue: 0 });
    expect((await get(t, admin, `/v1/invoices/${id}/payments`)).json()).toMatchObject({ amountPaid: 12_500, overpaymentCredit: 2_500 });
    const { rows } = await t.db.query('SELECT customer_id, amount, reason FROM customer_credits WHERE invoice_id = $1', [id]);
    expect(rows).toEqual([{ customer_id: customerId, amount: '2500', reason: 'overpayment' }]);
    const email = await waitFor(async () => (await t.db.query("SELECT text_body FROM emails WHERE template = 'receipt' AND text_body LIKE '%125.00 EUR%'")).rows[0]);
    expect(email.text_body).toContain('25.00 EUR more than was due');
  });

  describe('mark-paid', () => {
    it('records the balance as paid, and is a no-op on a paid invoice', async () => {
      const id = await openInvoice(10_000);
      expect((await pay(id, cash(3_000))).statusCode).toBe(201);
      const marked = await post(t, billing, `/v1/invoices/${id}/mark-paid`, { method: 'bank_transfer', reference: 'SEPA 42' });
      expect(marked.statusCode).toBe(200);
      expect(marked.json()).toMatchObject({ id, status: 'paid', amountPaid: 10_000, balanceDue: 0 });
      expect(marked.headers.etag).toBeDefined();
      const again = await post(t, admin, `/v1/invoices/${id}/mark-paid`);
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ status: 'paid', amountPaid: 10_000 });
      const payments = (await get(t, admin, `/v1/invoices/${id}/payments`)).json().data;
      expect(payments.map((payment: { amount: number; method: string }) => [payment.amount, payment.method])).toEqual([[3_000, 'cash'], [7_000, 'bank_transfer']]);
    });

    it('records one payment when ten mark-paids race', async () => {
      const id = await openInvoice(10_000);
      const responses = await Promise.all(Array.from({ length: 10 }, () => post(t, admin, `/v1/invoices/${id}/mark-paid`, {})));
      expect(responses.map((response) => response.statusCode)).toEqual(Array(10).fill(200));
      expect((await get(t, admin, `/v1/invoices/${id}/payments`)).json().data).toHaveLength(1);
      expect(await invoice(id)).toMatchObject({ status: 'paid', amountPaid: 10_000 });
    });

    it('refuses drafts and void invoices (409)', async () => {
      const draft = await createInvoice(t, admin, invoiceBody(customerId));
      expect((await post(t, admin, `/v1/invoices/${draft.id}/mark-paid`)).json()).toMatchObject({ status: 409, code: 'invoice_not_finalized' });
      expect((await pay(draft.id, cash(100))).json()).toMatchObject({ status: 409, code: 'invoice_not_finalized' });
      const voided = await openInvoice();
      expect((await post(t, admin, `/v1/invoices/${voided}/void`, { reason: 'Sent by mistake' })).statusCode).toBe(200);
      expect((await post(t, admin, `/v1/invoices/${voided}/mark-paid`)).json()).toMatchObject({ status: 409, code: 'invoice_void' });
      expect((await pay(voided, cash(100))).json()).toMatchObject({ status: 409, code: 'invoice_void' });
    });
  });

  describe('bad input', () => {
    it.each<[string, Record<string, unknown>, string, string | null]>([
      ['a zero amount', cash(0), 'amount', 'zero'],
      ['a negative amount', cash(-5), 'amount', 'negative'],
      ['a fractional amount', cash(10.5), 'amount', 'not_an_integer'],
      ['an amount as a decimal string', cash('10.50'), 'amount', 'not_an_integer'],
      ['an amount of 10^12', cash(1_000_000_000_000), 'amount', 'too_large'],
      ['an amount as an object', cash({ value: 1 } as never), 'amount', null],
      ['an unknown method', { ...cash(100), method: 'crypto' }, 'method', null],
      ['a card as the method', { ...cash(100), method: 'card' }, 'method', null],
      ['an impossible date', { ...cash(100), receivedOn: '2026-02-30' }, 'receivedOn', 'isCalendarDate'],
      ['a date in the future', { ...cash(100), receivedOn: '2099-01-01' }, 'receivedOn', 'in_future'],
      ['no date', { amount: 100, method: 'cash' }, 'receivedOn', null],
      ['a card number in the reference', { ...cash(100), reference: 'card 4242 4242 4242 4242' }, 'reference', 'card_number_not_allowed'],
      ['an unknown property', { ...cash(100), cardNumber: '4242424242424242' }, 'cardNumber', 'unknown_property'],
    ])('refuses %s with 400 naming the field, and records nothing', async (_name, body, field, code) => {
      const id = await openInvoice();
      const response = await pay(id, body);
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      const problem = response.json();
      expect(problem.errors.map((error: { field: string }) => error.field)).toContain(field);
      if (code) expect(problem.errors.find((error: { field: string }) => error.field === field).code).toBe(code);
      expect((await invoice(id)).amountPaid).toBe(0);
    });

    it('refuses a malformed Idempotency-Key with 400', async () => {
      const id = await openInvoice();
      expect((await pay(id, cash(100), 'x'.repeat(300))).statusCode).toBe(400);
    });
  });

  describe('roles and tenancy', () => {
    it('lets billing record, viewers only read', async () => {
      const id = await openInvoice();
      expect((await pay(id, cash(100), key(), billing)).statusCode).toBe(201);
      expect((await pay(id, cash(100), key(), viewer)).statusCode).toBe(403);
      expect((await post(t, viewer, `/v1/invoices/${id}/mark-paid`)).statusCode).toBe(403);
      const list = await get(t, viewer, `/v1/invoices/${id}/payments`);
      expect(list.statusCode).toBe(200);
      expect((await get(t, viewer, `/v1/payments/${list.json().data[0].id}`)).statusCode).toBe(200);
    });

    it('answers 404 for another business’s invoice or payment, with or without a key, and changes nothing', async () => {
      const id = await openInvoice();
      expect((await pay(id, cash(100))).statusCode).toBe(201);
      const paymentId = (await get(t, admin, `/v1/invoices/${id}/payments`)).json().data[0].id;
      const other = await readyAdmin(t, { businessName: 'Other Co' });
      for (const response of [
        await pay(id, cash(100), key(), other),
        await pay(id, cash(100), null, other),
        await post(t, other, `/v1/invoices/${id}/mark-paid`),
        await get(t, other, `/v1/invoices/${id}/payments`),
        await get(t, other, `/v1/payments/${paymentId}`),
      ]) {
        expect(response.statusCode).toBe(404);
        expect(response.headers['content-type']).toContain('application/problem+json');
      }
      expect((await invoice(id)).amountPaid).toBe(100);
    });

    it('answers 404 for an unknown invoice and 400 for an id that is not a uuid', async () => {
      expect((await pay('00000000-0000-4000-8000-000000000000', cash(100))).statusCode).toBe(404);
      expect((await get(t, admin, '/v1/payments/not-a-uuid')).statusCode).toBe(400);
    });
  });
});
