import { RefundsService } from '../src/payments/refunds.service.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { ledgerMismatches } from './harness/payments.js';
import { enrollMfa, inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { createInvoice, get, invoiceBody, post, seedCustomer } from './harness/invoicing.js';
import { startFakePaypal, type FakePaypal } from './fakes/fake-paypal.js';
import { startFakeStripe, type FakeStripe } from './fakes/fake-stripe.js';

/**
 * Refunds with two people: requested by billing or admin, approved by another admin, executed
 * at the provider with an idempotency key per refund (or recorded for manual payments),
 * confirmed by the provider's webhook, and never more than was paid, also under concurrency.
 */
describe('refunds', () => {
  let t: TestApp;
  let stripe: FakeStripe;
  let paypal: FakePaypal;
  let admin: TestAccount;
  let approver: TestAccount;
  let billing: TestAccount;
  let viewer: TestAccount;
  let customerId: string;
  let keyCounter = 0;

  beforeAll(async () => {
    stripe = await startFakeStripe();
    paypal = await startFakePaypal();
    t = await startTestApp({ env: { ...stripe.env(), ...paypal.env() } });
    admin = await readyAdmin(t, { businessName: 'Ace Plumbing' });
    customerId = await seedCustomer(t, admin.businessId, { name: 'Carla Customer', email: 'carla@example.test' });
    approver = await member(admin, 'admin');
    billing = await member(admin, 'billing');
    viewer = await member(admin, 'viewer');
  });
  afterEach(async () => {
    stripe.failures.clear();
    stripe.refundStatus = 'succeeded';
    expect(await ledgerMismatches(t)).toEqual([]);
  });
  afterAll(async () => {
    await t?.close();
    await stripe?.close();
    await paypal?.close();
  });

  async function member(by: TestAccount, role: 'admin' | 'billing' | 'viewer'): Promise<TestAccount> {
    const invitee = { email: uniqueEmail(role), password: strongPassword() };
    const joined = await inviteAndAccept(t, by, invitee, role);
    const session = await mobileLogin(t, invitee);
    const account: TestAccount = { ...invitee, userId: joined.userId, businessId: joined.businessId, accessToken: session.accessToken, refreshToken: session.refreshToken, auth: session.auth };
    return role === 'viewer' ? account : enrollMfa(t, account);
  }

  async function openInvoice(total: number): Promise<string> {
    const invoice = await createInvoice(t, admin, invoiceBody(customerId, { lines: [{ description: 'Work', quantity: 1, unitPrice: total }] }));
    expect((await post(t, admin, `/v1/invoices/${invoice.id}/finalize`)).statusCode).toBe(200);
    return invoice.id;
  }

  async function processed(provider: 'stripe' | 'paypal', eventId: string): Promise<{ status: string; outcome: string | null }> {
    return waitFor(async () => {
      const { rows } = await t.db.query('SELECT status, outcome FROM webhook_events WHERE provider = $1 AND event_id = $2', [provider, eventId]);
      return rows[0] && rows[0].status !== 'received' ? rows[0] : undefined;
    }, { what: `event ${eventId}` });
  }

  /** A card payment applied through the Stripe webhook; returns the invoice, payment and intent. */
  async function stripePayment(amount = 10_000, total = amount): Promise<{ invoiceId: string; paymentId: string; intentId: string; chargeId: string }> {
    const invoiceId = await openInvoice(total);
    const intent = stripe.paymentIntent({ amount, currency: 'eur', metadata: { business_id: admin.businessId, invoice_id: invoiceId } });
    const event = stripe.event('checkout.session.completed', stripe.checkoutSession(intent));
    expect((await stripe.deliver(t, event)).statusCode).toBe(200);
    expect(await processed('stripe', String(event.id))).toMatchObject({ status: 'processed' });
    const payments = (await get(t, admin, `/v1/invoices/${invoiceId}/payments`)).json().data;
    return { invoiceId, paymentId: payments[0].id, intentId: intent.id, chargeId: intent.chargeId };
  }

  async function manualPayment(amount: number, total = amount): Promise<{ invoiceId: string; paymentId: string }> {
    const invoiceId = await openInvoice(total);
    const response = await post(t, admin, `/v1/invoices/${invoiceId}/payments`, { amount, method: 'cash', receivedOn: '2026-11-20' }, { 'idempotency-key': `refund-test-${(keyCounter += 1)}` });
    expect(response.statusCode).toBe(201);
    return { invoiceId, paymentId: response.json().id };
  }

  const requestRefund = (paymentId: string, amount: number | string, account: TestAccount = billing, reason = 'Customer cancelled the job') => post(t, account, `/v1/payments/${paymentId}/refunds`, { amount, reason });

  async function refundRow(id: string): Promise<{ status: string; provider_refund_id: string | null; failure_reason: string | null; decided_by: string | null }> {
    const { rows } = await t.db.query('SELECT status, provider_refund_id, failure_reason, decided_by FROM refunds WHERE id = $1', [id]);
    return rows[0];
  }

  async function refundSettled(id: string): Promise<Awaited<ReturnType<typeof refundRow>>> {
    return waitFor(async () => {
      const row = await refundRow(id);
      return row && !['approved', 'pending_approval'].includes(row.status) ? row : undefined;
    }, { what: `refund ${id} executed`, timeoutMs: 40_000 });
  }

  async function invoice(id: string): Promise<{ status: string; amountPaid: number; balanceDue: number; [key: string]: unknown }> {
    return (await get(t, admin, `/v1/invoices/${id}`)).json();
  }

  it('needs a second person: billing requests, the requester cannot approve, another admin approves, Stripe refunds with an idempotency key', async () => {
    const { invoiceId, paymentId, intentId } = await stripePayment(10_000);
    const requested = await requestRefund(paymentId, 4_000, admin);
    expect(requested.statusCode).toBe(201);
    const refund = requested.json();
    expect(refund).toMatchObject({ paymentId, invoiceId, provider: 'stripe', origin: 'requested', amount: 4_000, status: 'pending_approval', requestedBy: admin.userId });
    expect((await get(t, viewer, '/v1/refunds?status=pending_approval')).json().data.map((item: { id: string }) => item.id)).toContain(refund.id);

    const self = await post(t, admin, `/v1/refunds/${refund.id}/approve`);
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('refund_needs_second_person');
    expect((await post(t, billing, `/v1/refunds/${refund.id}/approve`)).statusCode).toBe(403);
    expect(stripe.refunds.size).toBe(0);

    const approved = await post(t, approver, `/v1/refunds/${refund.id}/approve`);
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'approved', decidedBy: approver.userId });
    expect(await refundSettled(refund.id)).toMatchObject({ status: 'succeeded', decided_by: approver.userId });
    const atStripe = [...stripe.refunds.values()].filter((item) => item.payment_intent === intentId);
    expect(atStripe).toEqual([expect.objectContaining({ amount: 4_000, metadata: expect.objectContaining({ ledgerline_refund_id: refund.id }) })]);
    expect(stripe.idempotencyKeysFor(/^\/v1\/refunds$/).filter((value) => value?.includes(refund.id))).toEqual([`ledgerline-refund-${refund.id}`]);
    expect(await invoice(invoiceId)).toMatchObject({ status: 'partially_paid', amountPaid: 6_000, balanceDue: 4_000 });

    // Stripe's webhook confirms what is already recorded: nothing changes.
    const event = stripe.event('charge.refunded', stripe.charge(intentId));
    await stripe.deliver(t, event);
    expect(await processed('stripe', String(event.id))).toMatchObject({ status: 'processed', outcome: 'refunds_confirmed: 0 changed of 1' });
    const { rows } = await t.db.query('SELECT count(*)::int AS count FROM refunds WHERE payment_id = $1', [paymentId]);
    expect(rows[0].count).toBe(1);
    const { rows: audit } = await t.db.query('SELECT action, actor_type FROM audit_events WHERE entity_id = $1 ORDER BY seq', [refund.id]);
    expect(audit.map((row) => row.action)).toEqual(['payment.refund_requested', 'payment.refund_approved', 'payment.refunded']);
  });

  it('counts a refund Stripe reports pending only when its webhook confirms it', async () => {
    const { invoiceId, paymentId, intentId } = await stripePayment(10_000);
    stripe.refundStatus = 'pending';
    const refund = (await requestRefund(paymentId, 2_500)).json();
    expect((await post(t, approver, `/v1/refunds/${refund.id}/approve`)).statusCode).toBe(200);
    expect(await refundSettled(refund.id)).toMatchObject({ status: 'submitted' });
    expect((await invoice(invoiceId)).amountPaid).toBe(10_000);
    for (const item of stripe.refunds.values()) if (item.payment_intent === intentId) item.status = 'succeeded';
    const event = stripe.event('charge.refunded', stripe.charge(intentId));
    await stripe.deliver(t, event);
    await processed('stripe', String(event.id));
    expect(await refundRow(refund.id)).toMatchObject({ status: 'succeeded' });
    expect(await invoice(invoiceId)).toMatchObject({ status: 'partially_paid', amountPaid: 7_500 });
  });

  it('never refunds more than was paid, also when ten requests race', async () => {
    const { paymentId } = await stripePayment(10_000);
    const responses = await Promise.all(Array.from({ length: 10 }, () => requestRefund(paymentId, 3_000)));
    expect(responses.filter((response) => response.statusCode === 201)).toHaveLength(3);
    const refused = responses.filter((response) => response.statusCode === 400);
    expect(refused).toHaveLength(7);
    expect(refused[0].json().errors).toEqual([expect.objectContaining({ field: 'amount', code: 'refund_exceeds_refundable' })]);
    const ids = responses.filter((response) => response.statusCode === 201).map((response) => response.json().id as string);
    const approvals = await Promise.all(ids.map((id) => post(t, approver, `/v1/refunds/${id}/approve`)));
    expect(approvals.map((response) => response.statusCode)).toEqual([200, 200, 200]);
    for (const id of ids) expect(await refundSettled(id)).toMatchObject({ status: 'succeeded' });
    const payment = (await get(t, admin, `/v1/payments/${paymentId}`)).json();
    expect(payment).toMatchObject({ refundedAmount: 9_000, refundableAmount: 1_000 });
    expect((await requestRefund(paymentId, 1_001)).statusCode).toBe(400);
    expect((await requestRefund(paymentId, 1_000)).statusCode).toBe(201);
  });

  it('checks again at approval: a refund made at the provider meanwhile leaves too little', async () => {
    const { invoiceId, paymentId, intentId } = await stripePayment(10_000);
    const refund = (await requestRefund(paymentId, 6_000)).json();
    stripe.dashboardRefund(intentId, 5_000);
    const event = stripe.event('charge.refunded', stripe.charge(intentId));
    await stripe.deliver(t, event);
    await processed('stripe', String(event.id));
    expect(await invoice(invoiceId)).toMatchObject({ amountPaid: 5_000 });
    const approval = await post(t, approver, `/v1/refunds/${refund.id}/approve`);
    expect(approval.statusCode).toBe(409);
    expect(approval.json().code).toBe('refund_exceeds_refundable');
    expect((await post(t, approver, `/v1/refunds/${refund.id}/reject`, { note: 'Already refunded in Stripe' })).json()).toMatchObject({ status: 'rejected', decisionNote: 'Already refunded in Stripe' });
  });

  it('reuses the refund’s idempotency key on every retry (5xx, then a timeout), and refunds once', async () => {
    const { invoiceId, paymentId, intentId } = await stripePayment(10_000);
    const refund = (await requestRefund(paymentId, 1_000)).json();
    stripe.failures.failNext({ method: 'POST', path: /^\/v1\/refunds$/ }, { status: 500 }, 3);
    // Longer than the client's timeout: the first attempt is given up (and still happens at "Stripe").
    stripe.failures.failNext({ method: 'POST', path: /^\/v1\/refunds$/ }, { delayMs: 9_000 }, 1);
    expect((await post(t, approver, `/v1/refunds/${refund.id}/approve`)).statusCode).toBe(200);
    expect(await refundSettled(refund.id)).toMatchObject({ status: 'succeeded' });
    const keys = stripe.idempotencyKeysFor(/^\/v1\/refunds$/).filter((value) => value?.includes(refund.id));
    expect(keys.length).toBeGreaterThanOrEqual(4);
    expect(new Set(keys)).toEqual(new Set([`ledgerline-refund-${refund.id}`]));
    expect([...stripe.refunds.values()].filter((item) => item.payment_intent === intentId)).toHaveLength(1);
    expect((await invoice(invoiceId)).amountPaid).toBe(9_000);
  }, 90_000);

  it('executes an approved refund whose job was lost (the sweeper)', async () => {
    const { invoiceId, paymentId } = await stripePayment(10_000);
    const refund = (await requestRefund(paymentId, 1_000)).json();
    // As if the process died between the approval's commit and the enqueue.
    await t.db.query(`UPDATE refunds SET status = 'approved', decided_by = $2, decided_at = now(), updated_at = now() - interval '2 minutes' WHERE id = $1`, [refund.id, approver.userId]);
    await t.app.get(RefundsService).sweep();
    expect(await refundSettled(refund.id)).toMatchObject({ status: 'succeeded' });
    expect((await invoice(invoiceId)).amountPaid).toBe(9_000);
  });

  it('marks a refund the provider refuses failed, with the reason, and releases what it held', async () => {
    const { paymentId, intentId } = await stripePayment(10_000);
    const refund = (await requestRefund(paymentId, 8_000)).json();
    // Refunded in full in Stripe's dashboard before ours runs (its webhook not yet here).
    stripe.dashboardRefund(intentId, 10_000);
    expect((await post(t, approver, `/v1/refunds/${refund.id}/approve`)).statusCode).toBe(200);
    const row = await refundSettled(refund.id);
    expect(row.status).toBe('failed');
    expect(row.failure_reason).toContain('amount_too_large');
    expect((await get(t, admin, `/v1/payments/${paymentId}`)).json().refundableAmount).toBe(10_000);
    const { rows } = await t.db.query("SELECT count(*)::int AS count FROM audit_events WHERE entity_id = $1 AND action = 'payment.refund_failed'", [refund.id]);
    expect(rows[0].count).toBe(1);
  });

  it('refunds a PayPal capture with a PayPal-Request-Id, and the webhook confirms it once', async () => {
    const invoiceId = await openInvoice(10_000);
    const capture = paypal.capturedPayment({ amount: '100.00', currency: 'EUR', customId: `${admin.businessId}:${invoiceId}` });
    const paid = paypal.event('PAYMENT.CAPTURE.COMPLETED', paypal.captureResource(capture));
    await paypal.deliver(t, paid);
    await processed('paypal', String(paid.id));
    const paymentId = (await get(t, admin, `/v1/invoices/${invoiceId}/payments`)).json().data[0].id;
    const refund = (await requestRefund(paymentId, 2_550)).json();
    expect((await post(t, approver, `/v1/refunds/${refund.id}/approve`)).statusCode).toBe(200);
    const row = await refundSettled(refund.id);
    expect(row.status).toBe('succeeded');
    const call = paypal.requests.find((request) => request.path === `/v2/payments/captures/${capture.id}/refund`);
    expect(call).toMatchObject({ idempotencyKey: `ledgerline-refund-${refund.id}`, body: { amount: { currency_code: 'EUR', value: '25.50' }, custom_id: refund.id } });
    expect(await invoice(invoiceId)).toMatchObject({ status: 'partially_paid', amountPaid: 7_450 });
    const confirmation = paypal.event('PAYMENT.CAPTURE.REFUNDED', paypal.refundResource(capture, '25.50', { id: row.provider_refund_id, custom_id: refund.id }));
    await paypal.deliver(t, confirmation);
    expect(await processed('paypal', String(confirmation.id))).toMatchObject({ outcome: 'refund_unchanged' });
    const { rows } = await t.db.query('SELECT count(*)::int AS count FROM refunds WHERE payment_id = $1', [paymentId]);
    expect(rows[0].count).toBe(1);
  });

  it('records a manual payment’s refund at approval, and reduces an overpayment credit first', async () => {
    const { invoiceId, paymentId } = await manualPayment(12_500, 10_000);
    expect((await get(t, admin, `/v1/invoices/${invoiceId}/payments`)).json().overpaymentCredit).toBe(2_500);
    const refund = (await requestRefund(paymentId, 2_500)).json();
    const approved = await post(t, approver, `/v1/refunds/${refund.id}/approve`);
    expect(approved.json()).toMatchObject({ status: 'succeeded', provider: 'manual' });
    expect(await invoice(invoiceId)).toMatchObject({ status: 'paid', amountPaid: 10_000 });
    expect((await get(t, admin, `/v1/invoices/${invoiceId}/payments`)).json().overpaymentCredit).toBe(0);
    const { rows } = await t.db.query('SELECT amount, reason FROM customer_credits WHERE invoice_id = $1 ORDER BY created_at', [invoiceId]);
    expect(rows).toEqual([{ amount: '2500', reason: 'overpayment' }, { amount: '-2500', reason: 'overpayment_reduced' }]);
  });

  it('releases a rejected refund and refuses deciding twice', async () => {
    const { paymentId } = await manualPayment(5_000);
    const refund = (await requestRefund(paymentId, 5_000)).json();
    expect((await requestRefund(paymentId, 1)).statusCode).toBe(400);
    expect((await post(t, billing, `/v1/refunds/${refund.id}/reject`, {})).statusCode).toBe(403);
    expect((await post(t, approver, `/v1/refunds/${refund.id}/reject`, {})).json()).toMatchObject({ status: 'rejected' });
    expect((await post(t, approver, `/v1/refunds/${refund.id}/approve`)).json()).toMatchObject({ status: 409, code: 'refund_not_pending' });
    expect((await post(t, approver, `/v1/refunds/${refund.id}/reject`, {})).json()).toMatchObject({ status: 409, code: 'refund_not_pending' });
    expect((await requestRefund(paymentId, 5_000)).statusCode).toBe(201);
  });

  describe('bad input, roles and tenancy', () => {
    it.each<[string, Record<string, unknown>, string, string | null]>([
      ['a zero amount', { amount: 0, reason: 'x' }, 'amount', 'zero'],
      ['a negative amount', { amount: -1, reason: 'x' }, 'amount', 'negative'],
      ['a fractional amount', { amount: 1.5, reason: 'x' }, 'amount', 'not_an_integer'],
      ['more than was paid', { amount: 5_001, reason: 'x' }, 'amount', 'refund_exceeds_refundable'],
      ['no reason', { amount: 100 }, 'reason', null],
      ['an empty reason', { amount: 100, reason: '' }, 'reason', null],
      ['a card number in the reason', { amount: 100, reason: 'refund to 4242 4242 4242 4242' }, 'reason', 'card_number_not_allowed'],
      ['an unknown property', { amount: 100, reason: 'x', iban: 'NL00' }, 'iban', 'unknown_property'],
    ])('refuses %s with 400 naming the field', async (_name, body, field, code) => {
      const { paymentId } = await manualPayment(5_000);
      const response = await post(t, billing, `/v1/payments/${paymentId}/refunds`, body);
      expect(response.statusCode).toBe(400);
      const problem = response.json();
      expect(problem.errors.map((error: { field: string }) => error.field)).toContain(field);
      if (code) expect(problem.errors.find((error: { field: string }) => error.field === field).code).toBe(code);
      const { rows } = await t.db.query('SELECT count(*)::int AS count FROM refunds WHERE payment_id = $1', [paymentId]);
      expect(rows[0].count).toBe(0);
    });

    it('lets viewers read refunds but not request them', async () => {
      const { paymentId } = await manualPayment(5_000);
      expect((await requestRefund(paymentId, 100, viewer)).statusCode).toBe(403);
      const refund = (await requestRefund(paymentId, 100)).json();
      expect((await get(t, viewer, `/v1/refunds/${refund.id}`)).json()).toMatchObject({ id: refund.id, status: 'pending_approval' });
    });

    it('answers 404 for another business’s payments and refunds, and changes nothing', async () => {
      const { paymentId } = await manualPayment(5_000);
      const refund = (await requestRefund(paymentId, 100)).json();
      const other = await readyAdmin(t, { businessName: 'Other Co' });
      for (const response of [
        await requestRefund(paymentId, 100, other),
        await get(t, other, `/v1/refunds/${refund.id}`),
        await post(t, other, `/v1/refunds/${refund.id}/approve`),
        await post(t, other, `/v1/refunds/${refund.id}/reject`, {}),
      ]) {
        expect(response.statusCode).toBe(404);
        expect(response.headers['content-type']).toContain('application/problem+json');
      }
      expect((await get(t, other, '/v1/refunds')).json().data).toEqual([]);
      expect(await refundRow(refund.id)).toMatchObject({ status: 'pending_approval' });
    });

    it('pages the refund list with a cursor', async () => {
      const { paymentId } = await manualPayment(5_000);
      for (let index = 0; index < 3; index += 1) expect((await requestRefund(paymentId, 100)).statusCode).toBe(201);
      const first = (await get(t, admin, '/v1/refunds?limit=2')).json();
      expect(first.data).toHaveLength(2);
      const second = (await get(t, admin, `/v1/refunds?limit=2&cursor=${first.nextCursor}`)).json();
      expect(second.data.map((item: { id: string }) => item.id)).not.toContain(first.data[0].id);
      expect((await get(t, admin, '/v1/refunds?cursor=garbage')).statusCode).toBe(400);
    });
  });
});
