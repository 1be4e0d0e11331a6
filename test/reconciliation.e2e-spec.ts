import { randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from './harness/app.js';
import { ledgerMismatches } from './harness/payments.js';
import { inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { createInvoice, get, invoiceBody, post, seedCustomer } from './harness/invoicing.js';
import { startFakePaypal, type FakePaypal } from './fakes/fake-paypal.js';
import { startFakeStripe, type FakeStripe } from './fakes/fake-stripe.js';

/**
 * GET /v1/reports/reconciliation?month=YYYY-MM: a month of payments with their provider ids,
 * fee and net, grouped by payout, and the mismatches (provider money with no invoice, refunds
 * and reversals reported by the provider, disputes), as JSON and as formula-safe CSV.
 */
describe('reconciliation', () => {
  let t: TestApp;
  let stripe: FakeStripe;
  let paypal: FakePaypal;
  let admin: TestAccount;
  let viewer: { auth: { authorization: string } };
  let customerId: string;
  const today = new Date().toISOString().slice(0, 10);
  const month = today.slice(0, 7);
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    stripe = await startFakeStripe();
    paypal = await startFakePaypal();
    t = await startTestApp({ env: { ...stripe.env(), ...paypal.env() } });
    admin = await readyAdmin(t, { businessName: 'Ace Plumbing' });
    customerId = await seedCustomer(t, admin.businessId, { name: '=cmd|calc', email: 'carla@example.test' });
    const invitee = { email: uniqueEmail('viewer'), password: strongPassword() };
    await inviteAndAccept(t, admin, invitee, 'viewer');
    viewer = await mobileLogin(t, invitee);

    // Two card payments paid out together, one not yet paid out, a refund made in Stripe's dashboard, a dispute.
    const cards = [];
    for (const amount of [10_000, 5_000, 2_000]) {
      const invoiceId = await openInvoice(amount);
      const intent = stripe.paymentIntent({ amount, currency: 'eur', metadata: { business_id: admin.businessId, invoice_id: invoiceId } });
      await deliverStripe(stripe.event('checkout.session.completed', stripe.checkoutSession(intent)));
      cards.push({ invoiceId, intent });
    }
    ids.cardInvoice = cards[0].invoiceId;
    ids.payoutId = String(stripe.payout([cards[0].intent.id, cards[1].intent.id]).id);
    await deliverStripe(stripe.event('payout.paid', { id: ids.payoutId, object: 'payout' }));
    stripe.dashboardRefund(cards[2].intent.id, 500);
    await deliverStripe(stripe.event('charge.refunded', stripe.charge(cards[2].intent.id)));
    ids.disputeId = String(stripe.dispute(cards[1].intent.id).id);
    await deliverStripe(stripe.event('charge.dispute.created', { ...stripe.dispute(cards[1].intent.id), id: ids.disputeId }));
    // Stripe money for an invoice that does not exist here.
    ids.strayIntent = stripe.paymentIntent({ amount: 777, currency: 'eur', metadata: { business_id: admin.businessId, invoice_id: randomUUID() } }).id;
    await deliverStripe(stripe.event('checkout.session.completed', { ...stripe.checkoutSession(stripe.paymentIntents.get(ids.strayIntent)!), amount_total: 777 }));

    // PayPal: a capture, later reversed in part.
    const paypalInvoice = await openInvoice(4_000);
    const capture = paypal.capturedPayment({ amount: '40.00', currency: 'EUR', customId: `${admin.businessId}:${paypalInvoice}` });
    ids.captureId = capture.id;
    await deliverPaypal(paypal.event('PAYMENT.CAPTURE.COMPLETED', paypal.captureResource(capture)));
    await deliverPaypal(paypal.event('PAYMENT.CAPTURE.REVERSED', paypal.refundResource(capture, '10.00')));

    // Cash with a reference that a spreadsheet would run as a formula; and one last month (not in this report).
    const cashInvoice = await openInvoice(3_000);
    ids.cashInvoice = cashInvoice;
    const record = (receivedOn: string, reference: string) =>
      post(t, admin, `/v1/invoices/${cashInvoice}/payments`, { amount: 1_000, method: 'cash', receivedOn, reference }, { 'idempotency-key': randomUUID() });
    expect((await record(today, '=HYPERLINK("http://evil.test","x")')).statusCode).toBe(201);
    const lastMonth = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)) - 2, 15)).toISOString().slice(0, 10);
    expect((await record(lastMonth, 'last month')).statusCode).toBe(201);
  });
  afterEach(async () => {
    expect(await ledgerMismatches(t)).toEqual([]);
  });
  afterAll(async () => {
    await t?.close();
    await stripe?.close();
    await paypal?.close();
  });

  async function openInvoice(total: number): Promise<string> {
    const invoice = await createInvoice(t, admin, invoiceBody(customerId, { lines: [{ description: 'Work', quantity: 1, unitPrice: total }] }));
    expect((await post(t, admin, `/v1/invoices/${invoice.id}/finalize`)).statusCode).toBe(200);
    return invoice.id;
  }

  async function deliverStripe(event: Record<string, unknown>): Promise<void> {
    expect((await stripe.deliver(t, event)).statusCode).toBe(200);
    await settled('stripe', String(event.id));
  }

  async function deliverPaypal(event: Record<string, unknown>): Promise<void> {
    expect((await paypal.deliver(t, event)).statusCode).toBe(200);
    await settled('paypal', String(event.id));
  }

  async function settled(provider: string, eventId: string): Promise<void> {
    await waitFor(async () => (await t.db.query("SELECT 1 FROM webhook_events WHERE provider = $1 AND event_id = $2 AND status <> 'received'", [provider, eventId])).rows[0], { what: eventId });
  }

  it('reports the month’s payments with provider ids, fee and net, grouped by payout, with totals', async () => {
    const response = await get(t, viewer, `/v1/reports/reconciliation?month=${month}`);
    expect(response.statusCode).toBe(200);
    const report = response.json();
    expect(report).toMatchObject({ month });
    const groups = report.payouts.map((group: Record<string, unknown>) => [group.provider, group.payoutId, group.count, group.amount, group.fee, group.net, group.refunded]);
    expect(groups).toEqual([
      ['manual', null, 1, 1_000, 0, 1_000, 0],
      ['paypal', null, 1, 4_000, 189, 3_811, 1_000],
      ['stripe', ids.payoutId, 2, 15_000, 485, 14_515, 0],
      ['stripe', null, 1, 2_000, 83, 1_917, 500],
    ]);
    const card = report.payouts[2].payments.find((payment: { invoiceId: string }) => payment.invoiceId === ids.cardInvoice);
    expect(card).toMatchObject({ provider: 'stripe', method: 'card', currency: 'EUR', amount: 10_000, fee: 315, net: 9_685, cardBrand: 'visa', cardLast4: '4242', payoutId: ids.payoutId });
    expect(card.paymentIntentId).toMatch(/^pi_/);
    expect(card.chargeId).toMatch(/^ch_/);
    expect(card.checkoutSessionId).toMatch(/^cs_test_/);
    expect(card.balanceTransactionId).toMatch(/^txn_/);
    expect(report.payouts[1].payments[0]).toMatchObject({ captureId: ids.captureId, orderId: expect.any(String) });
    expect(report.totals).toEqual([{ currency: 'EUR', count: 5, amount: 22_000, fee: 757, net: 21_243, refunded: 1_500 }]);
  });

  it('lists the mismatches: provider money without an invoice, refunds and reversals at the provider, disputes', async () => {
    const report = (await get(t, admin, `/v1/reports/reconciliation?month=${month}`)).json();
    const kinds = report.mismatches.map((mismatch: Record<string, unknown>) => [mismatch.kind, mismatch.provider, mismatch.providerId, mismatch.amount]);
    expect(kinds).toEqual(expect.arrayContaining([
      ['provider_payment_without_invoice', 'stripe', ids.strayIntent, 777],
      ['refunded_at_provider', 'stripe', expect.stringMatching(/^re_/), 500],
      ['reversed_by_provider', 'paypal', expect.any(String), 1_000],
      ['disputed', 'stripe', ids.disputeId, 5_000],
    ]));
    expect(kinds).toHaveLength(4);
    expect(report.mismatches.find((mismatch: { kind: string }) => mismatch.kind === 'provider_payment_without_invoice').detail).toContain('invoice_not_found');
  });

  it.each<[string, string, Record<string, string>]>([
    ['?format=csv', `?month=${new Date().toISOString().slice(0, 7)}&format=csv`, {}],
    ['Accept: text/csv', `?month=${new Date().toISOString().slice(0, 7)}`, { accept: 'text/csv' }],
  ])('answers CSV for %s, formulas neutralised', async (_name, query, headers) => {
    const response = await t.inject({ method: 'GET', url: `/v1/reports/reconciliation${query}`, headers: { ...admin.auth, ...headers } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/csv');
    expect(response.headers['content-disposition']).toBe(`attachment; filename="reconciliation-${month}.csv"`);
    const lines = response.body.split('\r\n');
    expect(lines[0]).toMatch(/^Record,Provider,Payout,Received on,Invoice/);
    expect(lines.filter((line) => line.startsWith('payment,'))).toHaveLength(5);
    expect(lines.filter((line) => line.startsWith('mismatch: '))).toHaveLength(4);
    expect(response.body).toContain(`"'=HYPERLINK(""http://evil.test"",""x"")"`);
    expect(response.body).not.toMatch(/(^|,)=HYPERLINK/m);
  });

  it.each<[string, string]>([
    ['no month', ''],
    ['a month 13', '?month=2026-13'],
    ['a date instead of a month', '?month=2026-11-01'],
    ['an unknown format', `?month=2026-11&format=xlsx`],
  ])('refuses %s with 400 naming the field', async (_name, query) => {
    const response = await get(t, admin, `/v1/reports/reconciliation${query}`);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors.length).toBeGreaterThan(0);
  });

  it('shows another business nothing of ours, and an empty month as empty', async () => {
    const other = await readyAdmin(t, { businessName: 'Other Co' });
    expect((await get(t, other, `/v1/reports/reconciliation?month=${month}`)).json()).toMatchObject({ payouts: [], totals: [], mismatches: [] });
    expect((await get(t, admin, '/v1/reports/reconciliation?month=2001-01')).json()).toMatchObject({ payouts: [], totals: [], mismatches: [] });
  });
});
