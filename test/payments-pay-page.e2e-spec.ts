import { startTestApp, type TestApp } from './harness/app.js';
import { ledgerMismatches } from './harness/payments.js';
import { fromFreshIps, readyAdmin, waitFor, type TestAccount } from './harness/identity.js';
import { createInvoice, invoiceBody, post, seedCustomer } from './harness/invoicing.js';
import { startFakePaypal, type FakePaypal } from './fakes/fake-paypal.js';
import { startFakeStripe, type FakeStripe } from './fakes/fake-stripe.js';

/**
 * The pay page's buttons: Stripe Checkout and PayPal, started from a signed pay link (checked
 * before any database read), for the balance due, with idempotency keys a retry reuses; and
 * PayPal's return, which captures the approved order once.
 */
describe('paying from the pay page', () => {
  let t: TestApp;
  let stripe: FakeStripe;
  let paypal: FakePaypal;
  let admin: TestAccount;
  let customerId: string;
  // Each request from a new client IP: the per-IP limit on payment actions is tested on its own.
  let pages: TestApp;

  beforeAll(async () => {
    stripe = await startFakeStripe();
    paypal = await startFakePaypal();
    t = await startTestApp({ env: { ...stripe.env(), ...paypal.env() } });
    pages = fromFreshIps(t);
    admin = await readyAdmin(t, { businessName: 'Ace Plumbing' });
    customerId = await seedCustomer(t, admin.businessId, { name: 'Carla Customer', email: 'carla@example.test' });
  });
  afterEach(async () => {
    stripe.failures.clear();
    paypal.failures.clear();
    paypal.captureStatus = 'COMPLETED';
    expect(await ledgerMismatches(t)).toEqual([]);
  });
  afterAll(async () => {
    await t?.close();
    await stripe?.close();
    await paypal?.close();
  });

  /** A finalised invoice and its signed pay link (path and query, as the page's forms use them). */
  async function payLink(total = 10_000): Promise<{ invoiceId: string; path: string; query: string }> {
    const invoice = await createInvoice(t, admin, invoiceBody(customerId, { lines: [{ description: 'Boiler service', quantity: 1, unitPrice: total }] }));
    expect((await post(t, admin, `/v1/invoices/${invoice.id}/finalize`)).statusCode).toBe(200);
    const link = await post(t, admin, `/v1/invoices/${invoice.id}/link`);
    expect(link.statusCode).toBe(200);
    const url = new URL(link.json().url);
    return { invoiceId: invoice.id, path: url.pathname, query: url.search };
  }

  const checkoutRequests = () => stripe.requests.filter((request) => request.method === 'POST' && request.path === '/v1/checkout/sessions');

  async function paymentsOf(invoiceId: string): Promise<Array<{ provider: string; amount: string }>> {
    return (await t.db.query('SELECT provider, amount FROM payments WHERE invoice_id = $1 ORDER BY created_at', [invoiceId])).rows;
  }

  describe('Stripe Checkout', () => {
    it('creates a session for the balance due with the ids in metadata and URLs back to the signed page, then redirects to it', async () => {
      const { invoiceId, path, query } = await payLink(10_000);
      const response = await pages.inject({ method: 'POST', url: `${path}/checkout/stripe${query}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'action=pay_card' });
      expect(response.statusCode).toBe(303);
      const request = checkoutRequests().at(-1)!;
      const session = stripe.sessions.get([...stripe.sessions.keys()].at(-1)!)!;
      expect(response.headers.location).toBe(session.url);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(request.body).toMatchObject({
        mode: 'payment',
        client_reference_id: invoiceId,
        line_items: { 0: { quantity: '1', price_data: { currency: 'eur', unit_amount: '10000', product_data: { name: expect.stringContaining('Ace Plumbing') } } } },
        metadata: { business_id: admin.businessId, invoice_id: invoiceId },
        payment_intent_data: { metadata: { business_id: admin.businessId, invoice_id: invoiceId } },
        success_url: `${t.config.baseUrl}${path}${query}&payment=card_success`,
        cancel_url: `${t.config.baseUrl}${path}${query}&payment=card_cancelled`,
      });
      expect(request.idempotencyKey).toMatch(new RegExp(`^ledgerline-checkout-${invoiceId}-v\\d+-10000-`));
      const { rows } = await t.db.query('SELECT provider, provider_session_id, amount, status FROM checkout_sessions WHERE invoice_id = $1', [invoiceId]);
      expect(rows).toEqual([{ provider: 'stripe', provider_session_id: session.id, amount: '10000', status: 'open' }]);

      // The customer pays on Stripe's page; Stripe's webhook applies it and completes the checkout.
      const { session: paid } = stripe.completeSession(String(session.id));
      const event = stripe.event('checkout.session.completed', paid);
      expect((await stripe.deliver(t, event)).statusCode).toBe(200);
      await waitFor(async () => (await t.db.query("SELECT 1 FROM checkout_sessions WHERE invoice_id = $1 AND status = 'completed'", [invoiceId])).rows[0]);
      expect(await paymentsOf(invoiceId)).toEqual([{ provider: 'stripe', amount: '10000' }]);
      expect((await pages.inject({ method: 'POST', url: `${path}/checkout/stripe${query}` })).json()).toMatchObject({ status: 409, code: 'invoice_paid' });
    });

    it('reuses the idempotency key on a retried click (same session), and makes a new one when the balance changes', async () => {
      const { invoiceId, path, query } = await payLink(10_000);
      const first = await pages.inject({ method: 'POST', url: `${path}/checkout/stripe${query}` });
      const second = await pages.inject({ method: 'POST', url: `${path}/checkout/stripe${query}` });
      expect(second.headers.location).toBe(first.headers.location);
      const [a, b] = checkoutRequests().slice(-2);
      expect(b.idempotencyKey).toBe(a.idempotencyKey);
      const manual = await post(t, admin, `/v1/invoices/${invoiceId}/payments`, { amount: 4_000, method: 'cash', receivedOn: new Date().toISOString().slice(0, 10) }, { 'idempotency-key': `pay-page-${invoiceId}` });
      expect(manual.statusCode).toBe(201);
      const third = await pages.inject({ method: 'POST', url: `${path}/checkout/stripe${query}` });
      expect(third.headers.location).not.toBe(first.headers.location);
      const last = checkoutRequests().at(-1)!;
      expect(last.idempotencyKey).not.toBe(a.idempotencyKey);
      expect(last.body).toMatchObject({ line_items: { 0: { price_data: { unit_amount: '6000' } } } });
    });

    it('answers 503 while Stripe fails, and the retried click uses the same key', async () => {
      const { path, query } = await payLink(10_000);
      stripe.failures.failNext({ method: 'POST', path: /^\/v1\/checkout\/sessions$/ }, { status: 500 }, 3);
      const failed = await pages.inject({ method: 'POST', url: `${path}/checkout/stripe${query}` });
      expect(failed.statusCode).toBe(503);
      expect(failed.json()).toMatchObject({ code: 'payment_provider_unavailable' });
      const retried = await pages.inject({ method: 'POST', url: `${path}/checkout/stripe${query}` });
      expect(retried.statusCode).toBe(303);
      const keys = checkoutRequests().slice(-4).map((request) => request.idempotencyKey);
      expect(new Set(keys).size).toBe(1);
    });

    it('answers JSON clients with the URL', async () => {
      const { path, query } = await payLink(10_000);
      const response = await pages.inject({ method: 'POST', url: `${path}/checkout/stripe${query}`, headers: { accept: 'application/json' } });
      expect(response.statusCode).toBe(200);
      expect(response.json().url).toMatch(new RegExp(`^${stripe.url}/c/pay/cs_test_`));
    });

    it.each<[string, (link: { path: string; query: string }) => string]>([
      ['a tampered signature', (link) => `${link.path}/checkout/stripe${link.query.replace(/t=[^&]/, (match) => (match.endsWith('A') ? 't=B' : 't=A'))}`],
      ['no signature', (link) => `${link.path}/checkout/stripe`],
      ['another invoice id under the same signature', (link) => `/pay/00000000-0000-4000-8000-000000000000/checkout/stripe${link.query}`],
    ])('refuses %s with 401 before reading anything or calling Stripe', async (_name, url) => {
      const link = await payLink(10_000);
      const before = { stripe: stripe.requests.length, sessions: (await t.db.query('SELECT count(*)::int AS count FROM checkout_sessions')).rows[0].count };
      const response = await pages.inject({ method: 'POST', url: url(link) });
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe('link_invalid');
      expect(stripe.requests.length).toBe(before.stripe);
      expect((await t.db.query('SELECT count(*)::int AS count FROM checkout_sessions')).rows[0].count).toBe(before.sessions);
    });

    it('refuses a cross-site form post (403) and a revoked link (401)', async () => {
      const { path, query } = await payLink(10_000);
      expect((await pages.inject({ method: 'POST', url: `${path}/checkout/stripe${query}`, headers: { 'sec-fetch-site': 'cross-site' } })).statusCode).toBe(403);
      expect((await pages.inject({ method: 'POST', url: `${path}/checkout/stripe${query}`, headers: { origin: 'https://evil.example' } })).statusCode).toBe(403);
      await t.db.query('UPDATE businesses SET link_epoch = link_epoch + 1 WHERE id = $1', [admin.businessId]);
      try {
        expect((await pages.inject({ method: 'POST', url: `${path}/checkout/stripe${query}` })).statusCode).toBe(401);
      } finally {
        await t.db.query('UPDATE businesses SET link_epoch = link_epoch - 1 WHERE id = $1', [admin.businessId]);
      }
    });
  });

  it('limits payment actions per client IP (429 with Retry-After), before the signature is checked', async () => {
    const { path } = await payLink(10_000);
    const statuses: number[] = [];
    for (let index = 0; index < 21; index += 1) {
      statuses.push((await t.inject({ method: 'POST', url: `${path}/checkout/stripe?t=AAAAAAAAAAAAAAAAAAAAAAAA&d=1&e=0`, remoteAddress: '10.250.0.1' })).statusCode);
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    const limited = await t.inject({ method: 'POST', url: `${path}/checkout/stripe?t=AAAAAAAAAAAAAAAAAAAAAAAA&d=1&e=0`, remoteAddress: '10.250.0.1' });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
  });

  describe('PayPal', () => {
    async function startPaypal(total = 10_000): Promise<{ invoiceId: string; path: string; query: string; orderId: string }> {
      const link = await payLink(total);
      const response = await pages.inject({ method: 'POST', url: `${link.path}/paypal${link.query}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'action=pay_paypal' });
      expect(response.statusCode).toBe(303);
      const orderId = new URL(String(response.headers.location)).searchParams.get('token')!;
      expect(paypal.orders.has(orderId)).toBe(true);
      return { ...link, orderId };
    }

    it('creates an order for the balance due, captures it on return once, and applies the payment', async () => {
      const { invoiceId, path, query, orderId } = await startPaypal(10_000);
      const create = paypal.requests.find((request) => request.path === '/v2/checkout/orders' && request.method === 'POST' && JSON.stringify(request.body).includes(invoiceId))!;
      expect(create.idempotencyKey).toMatch(new RegExp(`^ledgerline-checkout-${invoiceId}-v\\d+-10000-`));
      expect(create.body).toMatchObject({
        intent: 'CAPTURE',
        purchase_units: [{ reference_id: invoiceId, custom_id: `${admin.businessId}:${invoiceId}`, amount: { currency_code: 'EUR', value: '100.00' } }],
        payment_source: { paypal: { experience_context: { return_url: `${t.config.baseUrl}${path}/paypal/return${query}`, cancel_url: `${t.config.baseUrl}${path}${query}&payment=paypal_cancelled` } } },
      });
      expect(paypal.requests.some((request) => request.path === '/v1/oauth2/token')).toBe(true);

      paypal.approve(orderId);
      const back = await pages.inject({ method: 'GET', url: `${path}/paypal/return${query}&token=${orderId}&PayerID=BUYER1` });
      expect(back.statusCode).toBe(303);
      expect(back.headers.location).toBe(`${t.config.baseUrl}${path}${query}&payment=paypal_completed`);
      const capture = paypal.requests.find((request) => request.path === `/v2/checkout/orders/${orderId}/capture`)!;
      expect(capture.idempotencyKey).toBe(`ledgerline-capture-${orderId}`);
      expect(await paymentsOf(invoiceId)).toEqual([{ provider: 'paypal', amount: '10000' }]);

      // A reload of the return page, and PayPal's webhook for the same capture: still one payment.
      const reload = await pages.inject({ method: 'GET', url: `${path}/paypal/return${query}&token=${orderId}&PayerID=BUYER1` });
      expect(reload.headers.location).toContain('payment=paypal_completed');
      const captured = paypal.orders.get(orderId)!.captures[0];
      const event = paypal.event('PAYMENT.CAPTURE.COMPLETED', paypal.captureResource(captured));
      await paypal.deliver(t, event);
      await waitFor(async () => (await t.db.query("SELECT 1 FROM webhook_events WHERE event_id = $1 AND status = 'processed'", [event.id])).rows[0]);
      expect(await paymentsOf(invoiceId)).toEqual([{ provider: 'paypal', amount: '10000' }]);
      const { rows } = await t.db.query('SELECT status, capture_id FROM checkout_sessions WHERE provider_session_id = $1', [orderId]);
      expect(rows).toEqual([{ status: 'completed', capture_id: captured.id }]);
    });

    it('treats a PENDING capture as no payment until PayPal confirms it', async () => {
      const { invoiceId, path, query, orderId } = await startPaypal(10_000);
      paypal.approve(orderId);
      paypal.captureStatus = 'PENDING';
      const back = await pages.inject({ method: 'GET', url: `${path}/paypal/return${query}&token=${orderId}` });
      expect(back.headers.location).toContain('payment=paypal_pending');
      expect(await paymentsOf(invoiceId)).toEqual([]);
      const captured = paypal.orders.get(orderId)!.captures[0];
      captured.status = 'COMPLETED';
      const event = paypal.event('PAYMENT.CAPTURE.COMPLETED', paypal.captureResource(captured));
      await paypal.deliver(t, event);
      await waitFor(async () => (await t.db.query("SELECT 1 FROM webhook_events WHERE event_id = $1 AND status = 'processed'", [event.id])).rows[0]);
      expect(await paymentsOf(invoiceId)).toEqual([{ provider: 'paypal', amount: '10000' }]);
    });

    it('fails softly for an order the buyer did not approve, and refuses orders of other invoices or bad links', async () => {
      const { invoiceId, path, query, orderId } = await startPaypal(10_000);
      const notApproved = await pages.inject({ method: 'GET', url: `${path}/paypal/return${query}&token=${orderId}` });
      expect(notApproved.headers.location).toContain('payment=paypal_failed');
      expect(await paymentsOf(invoiceId)).toEqual([]);
      const other = await startPaypal(5_000);
      expect((await pages.inject({ method: 'GET', url: `${path}/paypal/return${query}&token=${other.orderId}` })).statusCode).toBe(404);
      expect((await pages.inject({ method: 'GET', url: `${path}/paypal/return?t=AAAAAAAAAAAAAAAAAAAAAAAA&d=1&e=0&token=${orderId}` })).statusCode).toBe(401);
      expect((await pages.inject({ method: 'GET', url: `${path}/paypal/return${query}&token=${encodeURIComponent('../../x')}` })).statusCode).toBe(400);
    });

    it('answers 503 when PayPal is down and creates nothing', async () => {
      const link = await payLink(10_000);
      paypal.failures.failNext({ method: 'POST', path: /^\/v2\/checkout\/orders$/ }, { status: 503 }, 1);
      const response = await pages.inject({ method: 'POST', url: `${link.path}/paypal${link.query}` });
      expect(response.statusCode).toBe(503);
      expect((await t.db.query('SELECT count(*)::int AS count FROM checkout_sessions WHERE invoice_id = $1', [link.invoiceId])).rows[0].count).toBe(0);
    });
  });
});
