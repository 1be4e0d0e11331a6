import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { SecuritySignals } from '../src/security/security-signals.js';
import { WebhookInbox } from '../src/webhooks/webhook-inbox.service.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { ledgerMismatches } from './harness/payments.js';
import { inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { createInvoice, get, invoiceBody, post, seedCustomer } from './harness/invoicing.js';
import { selfSignedCertificate, startFakePaypal, type FakePaypal, type SignOptions } from './fakes/fake-paypal.js';
import { startFakeStripe, type FakeStripe } from './fakes/fake-stripe.js';

/**
 * Vendor webhooks through the real app, database and queue, against local fakes of Stripe and
 * PayPal that sign exactly as the vendors do: verification (refused deliveries write nothing),
 * storing once, exactly-once application under concurrency, order independence, disputes, and
 * bad input that never crashes the worker.
 */
describe('webhooks', () => {
  let t: TestApp;
  let stripe: FakeStripe;
  let paypal: FakePaypal;
  let admin: TestAccount;
  let customerId: string;

  beforeAll(async () => {
    stripe = await startFakeStripe();
    paypal = await startFakePaypal();
    t = await startTestApp({ env: { ...stripe.env(), ...paypal.env() } });
    admin = await readyAdmin(t, { businessName: 'Ace Plumbing' });
    customerId = await seedCustomer(t, admin.businessId, { name: 'Carla Customer', email: 'carla@example.test' });
  });
  afterEach(async () => {
    stripe.failures.clear();
    paypal.failures.clear();
    expect(await ledgerMismatches(t)).toEqual([]);
  });
  afterAll(async () => {
    await t?.close();
    await stripe?.close();
    await paypal?.close();
  });

  async function openInvoice(total = 10_000, account: TestAccount = admin, customer = customerId): Promise<{ id: string; total: number; metadata: Record<string, string> }> {
    const invoice = await createInvoice(t, account, invoiceBody(customer, { lines: [{ description: 'Work', quantity: 1, unitPrice: total }] }));
    const finalized = await post(t, account, `/v1/invoices/${invoice.id}/finalize`);
    expect(finalized.statusCode).toBe(200);
    return { id: invoice.id, total, metadata: { business_id: account.businessId, invoice_id: invoice.id } };
  }

  async function settled(eventId: string, provider = 'stripe'): Promise<{ id: string; status: string; outcome: string | null; failure_reason: string | null; business_id: string | null; payload: unknown; attempts: number }> {
    return waitFor(
      async () => {
        const { rows } = await t.db.query('SELECT id, status, outcome, failure_reason, business_id::text, payload, attempts FROM webhook_events WHERE provider = $1 AND event_id = $2', [provider, eventId]);
        return rows[0] && rows[0].status !== 'received' ? rows[0] : undefined;
      },
      { what: `event ${eventId} processed`, timeoutMs: 30_000 },
    );
  }

  async function invoiceRow(id: string): Promise<{ status: string; amount_paid: string; disputed_at: Date | null }> {
    const { rows } = await t.db.query('SELECT status, amount_paid, disputed_at FROM invoices WHERE id = $1', [id]);
    return rows[0];
  }

  async function counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const table of ['webhook_events', 'payments', 'refunds', 'disputes', 'emails', 'customer_credits', 'checkout_sessions']) {
      const { rows } = await t.db.query(`SELECT count(*)::int AS count FROM ${table}`);
      out[table] = rows[0].count;
    }
    // The worker folds the audit inbox into the chain meanwhile: their sum is what must not change.
    const { rows } = await t.db.query('SELECT (SELECT count(*) FROM audit_events) + (SELECT count(*) FROM audit_inbox) AS count');
    out.audit = Number(rows[0].count);
    return out;
  }

  describe('Stripe', () => {
    it('applies a paid checkout session once: payment with ids, brand, last four, fee and net; receipt; audit; redacted payload', async () => {
      const invoice = await openInvoice(10_000);
      const intent = stripe.paymentIntent({ amount: 10_000, currency: 'eur', metadata: invoice.metadata, card: { brand: 'mastercard', last4: '4444' }, fee: 315 });
      const session = stripe.checkoutSession(intent);
      const event = stripe.event('checkout.session.completed', session);
      const response = await stripe.deliver(t, event);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ received: true, duplicate: false });

      const row = await settled(String(event.id));
      expect(row).toMatchObject({ status: 'processed', outcome: 'payment_applied', business_id: admin.businessId });
      expect(JSON.stringify(row.payload)).not.toMatch(/carla|1 Test Road|cs_secret_should_never_be_stored/i);

      expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'paid', amount_paid: '10000' });
      const payments = (await get(t, admin, `/v1/invoices/${invoice.id}/payments`)).json();
      expect(payments.data).toHaveLength(1);
      expect(payments.data[0]).toMatchObject({
        provider: 'stripe',
        method: 'card',
        amount: 10_000,
        currency: 'EUR',
        fee: 315,
        net: 9_685,
        card: { brand: 'mastercard', last4: '4444' },
        providerIds: { providerPaymentId: intent.id, paymentIntentId: intent.id, chargeId: intent.chargeId, checkoutSessionId: session.id, balanceTransactionId: intent.balanceTransactionId },
      });
      const { rows: emails } = await t.db.query("SELECT to_address FROM emails WHERE template = 'receipt' AND business_id = $1 AND text_body LIKE '%100.00 EUR (card)%'", [admin.businessId]);
      expect(emails.map((email) => email.to_address)).toContain('carla@example.test');
      const { rows: audit } = await t.db.query("SELECT actor_type, actor_id FROM audit_events WHERE entity_id = $1 AND action = 'invoice.payment_recorded'", [invoice.id]);
      expect(audit).toEqual([{ actor_type: 'provider', actor_id: 'stripe' }]);
      // Card data never touches us: nothing that looks like a card number or expiry is stored.
      const { rows: stored } = await t.db.query('SELECT row_to_json(p)::text AS json FROM payments p WHERE invoice_id = $1', [invoice.id]);
      expect(stored[0].json).not.toMatch(/exp_|fingerprint|\b\d{13,19}\b/);
    });

    it('stores 50 concurrent deliveries of one event once and applies one payment', async () => {
      const invoice = await openInvoice(10_000);
      const intent = stripe.paymentIntent({ amount: 10_000, currency: 'eur', metadata: invoice.metadata });
      const event = stripe.event('checkout.session.completed', stripe.checkoutSession(intent));
      const payload = JSON.stringify(event);
      const header = stripe.sign(payload);
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => t.inject({ method: 'POST', url: '/webhooks/stripe', headers: { 'content-type': 'application/json', 'stripe-signature': header }, payload })),
      );
      expect(responses.map((response) => response.statusCode)).toEqual(Array(50).fill(200));
      expect(responses.filter((response) => response.json().duplicate === false)).toHaveLength(1);
      await settled(String(event.id));
      const { rows } = await t.db.query('SELECT count(*)::int AS events FROM webhook_events WHERE event_id = $1', [event.id]);
      expect(rows[0].events).toBe(1);
      const { rows: payments } = await t.db.query('SELECT amount FROM payments WHERE invoice_id = $1', [invoice.id]);
      expect(payments).toEqual([{ amount: '10000' }]);
      expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'paid', amount_paid: '10000' });
    });

    it('applies one payment for different events about the same payment intent (completed, async succeeded, redelivered under new ids)', async () => {
      const invoice = await openInvoice(10_000);
      const intent = stripe.paymentIntent({ amount: 10_000, currency: 'eur', metadata: invoice.metadata });
      const session = stripe.checkoutSession(intent);
      const events = [
        stripe.event('checkout.session.completed', session),
        stripe.event('checkout.session.async_payment_succeeded', session),
        ...Array.from({ length: 8 }, () => stripe.event('checkout.session.completed', session)),
      ];
      const responses = await Promise.all(events.map((event) => stripe.deliver(t, event)));
      expect(responses.map((response) => response.statusCode)).toEqual(Array(events.length).fill(200));
      const outcomes = await Promise.all(events.map((event) => settled(String(event.id))));
      expect(outcomes.filter((row) => row.outcome === 'payment_applied')).toHaveLength(1);
      expect(outcomes.filter((row) => row.outcome === 'payment_already_applied')).toHaveLength(events.length - 1);
      const { rows } = await t.db.query('SELECT count(*)::int AS count FROM payments WHERE invoice_id = $1', [invoice.id]);
      expect(rows[0].count).toBe(1);
    });

    it('applies 20 different concurrent partial payments: amount paid is their sum', async () => {
      const amounts = Array.from({ length: 20 }, (_, index) => (index + 1) * 100);
      const invoice = await openInvoice(amounts.reduce((sum, amount) => sum + amount, 0));
      const events = amounts.map((amount) => stripe.event('checkout.session.completed', stripe.checkoutSession(stripe.paymentIntent({ amount, currency: 'eur', metadata: invoice.metadata }))));
      const responses = await Promise.all(events.map((event) => stripe.deliver(t, event)));
      expect(responses.map((response) => response.statusCode)).toEqual(Array(20).fill(200));
      await Promise.all(events.map((event) => settled(String(event.id))));
      expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'paid', amount_paid: String(invoice.total) });
      const { rows } = await t.db.query('SELECT count(*)::int AS count, sum(amount)::text AS sum FROM payments WHERE invoice_id = $1', [invoice.id]);
      expect(rows[0]).toEqual({ count: 20, sum: String(invoice.total) });
      const { rows: credits } = await t.db.query('SELECT count(*)::int AS count FROM customer_credits WHERE invoice_id = $1', [invoice.id]);
      expect(credits[0].count).toBe(0);
    });

    it('gives one consistent outcome when a webhook and a manual mark-paid race', async () => {
      for (let round = 0; round < 5; round += 1) {
        const invoice = await openInvoice(5_000);
        const intent = stripe.paymentIntent({ amount: 5_000, currency: 'eur', metadata: invoice.metadata });
        const event = stripe.event('checkout.session.completed', stripe.checkoutSession(intent));
        const [delivered, marked] = await Promise.all([stripe.deliver(t, event), post(t, admin, `/v1/invoices/${invoice.id}/mark-paid`, {})]);
        expect([delivered.statusCode, marked.statusCode]).toEqual([200, 200]);
        await settled(String(event.id));
        const { rows } = await t.db.query('SELECT provider, amount FROM payments WHERE invoice_id = $1 ORDER BY created_at', [invoice.id]);
        const { rows: credit } = await t.db.query('SELECT coalesce(sum(amount), 0)::text AS credit FROM customer_credits WHERE invoice_id = $1', [invoice.id]);
        const paid = rows.reduce((sum, row) => sum + Number(row.amount), 0);
        expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'paid', amount_paid: String(paid) });
        // Either the webhook came first (mark-paid was a no-op) or mark-paid did (the card payment is a credit, never lost).
        expect(rows.some((row) => row.provider === 'stripe')).toBe(true);
        expect([1, 2]).toContain(rows.length);
        expect(Number(credit[0].credit)).toBe(paid - 5_000);
      }
    });

    it('ends in the same state whatever order a payment and its refund arrive in', async () => {
      const states: unknown[] = [];
      for (const order of ['refund first', 'payment first']) {
        const invoice = await openInvoice(10_000);
        const intent = stripe.paymentIntent({ amount: 10_000, currency: 'eur', metadata: invoice.metadata });
        stripe.dashboardRefund(intent.id, 3_000);
        const paid = stripe.event('checkout.session.completed', stripe.checkoutSession(intent));
        const refunded = stripe.event('charge.refunded', stripe.charge(intent.id));
        const sequence = order === 'refund first' ? [refunded, paid] : [paid, refunded];
        for (const event of sequence) {
          expect((await stripe.deliver(t, event)).statusCode).toBe(200);
          expect((await settled(String(event.id))).status).toBe('processed');
        }
        // Delivered again under new ids: nothing changes.
        for (const event of sequence) await stripe.deliver(t, { ...event, id: `${String(event.id)}_again` });
        for (const event of sequence) await settled(`${String(event.id)}_again`);
        const { rows: refunds } = await t.db.query('SELECT amount, status, origin FROM refunds WHERE invoice_id = $1', [invoice.id]);
        states.push({ invoice: await invoiceRow(invoice.id), refunds });
      }
      expect(states[0]).toEqual(states[1]);
      expect(states[0]).toEqual({ invoice: { status: 'partially_paid', amount_paid: '7000', disputed_at: null }, refunds: [{ amount: '3000', status: 'succeeded', origin: 'provider' }] });
    });

    it('records a dispute once, flags the invoice and alerts the admins', async () => {
      const invoice = await openInvoice(10_000);
      const intent = stripe.paymentIntent({ amount: 10_000, currency: 'eur', metadata: invoice.metadata });
      const dispute = stripe.dispute(intent.id);
      // The dispute arrives before the payment's own event: the payment is applied first.
      const events = [stripe.event('charge.dispute.created', dispute), stripe.event('charge.dispute.created', dispute), stripe.event('checkout.session.completed', stripe.checkoutSession(intent))];
      for (const event of events) {
        expect((await stripe.deliver(t, event)).statusCode).toBe(200);
        await settled(String(event.id));
      }
      const { rows } = await t.db.query('SELECT provider_dispute_id, amount, reason, status FROM disputes WHERE invoice_id = $1', [invoice.id]);
      expect(rows).toEqual([{ provider_dispute_id: dispute.id, amount: '10000', reason: 'fraudulent', status: 'needs_response' }]);
      expect((await invoiceRow(invoice.id)).disputed_at).not.toBeNull();
      const { rows: alerts } = await t.db.query("SELECT to_address FROM emails WHERE template = 'disputeAlert' AND business_id = $1", [admin.businessId]);
      expect(alerts.map((alert) => alert.to_address)).toEqual([admin.email]);
      const payments = (await get(t, admin, `/v1/invoices/${invoice.id}/payments`)).json();
      expect(payments.data[0].disputes).toEqual([expect.objectContaining({ providerDisputeId: dispute.id, status: 'needs_response' })]);
      const { rows: audit } = await t.db.query("SELECT count(*)::int AS count FROM audit_events WHERE entity_id = $1 AND action = 'invoice.disputed'", [invoice.id]);
      expect(audit[0].count).toBe(1);
    });

    it('retries a transient Stripe failure and applies the payment once Stripe answers', async () => {
      const invoice = await openInvoice(10_000);
      const intent = stripe.paymentIntent({ amount: 10_000, currency: 'eur', metadata: invoice.metadata });
      // The client itself retries twice; three failures make the job fail once and run again.
      stripe.failures.failNext({ path: new RegExp(`/v1/payment_intents/${intent.id}$`) }, { status: 500 }, 3);
      stripe.failures.failNext({ path: new RegExp(`/v1/payment_intents/${intent.id}$`) }, { reset: true }, 1);
      const event = stripe.event('checkout.session.completed', stripe.checkoutSession(intent));
      expect((await stripe.deliver(t, event)).statusCode).toBe(200);
      const row = await settled(String(event.id));
      expect(row).toMatchObject({ status: 'processed', outcome: 'payment_applied' });
      expect(row.attempts).toBeGreaterThanOrEqual(2);
      expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'paid' });
    });

    it('re-queues a stored event whose job was lost (the sweeper), and marks an event failed once its attempts are spent', async () => {
      const inbox = t.app.get(WebhookInbox);
      const invoice = await openInvoice(10_000);
      const intent = stripe.paymentIntent({ amount: 10_000, currency: 'eur', metadata: invoice.metadata });
      const event = stripe.event('checkout.session.completed', stripe.checkoutSession(intent));
      // As if the process died between the insert and the enqueue.
      await t.db.query(
        `INSERT INTO webhook_events (provider, event_id, event_type, livemode, payload, received_at) VALUES ('stripe', $1, $2, false, $3, now() - interval '2 minutes')`,
        [event.id, event.type, JSON.stringify(event)],
      );
      await inbox.sweep();
      expect(await settled(String(event.id))).toMatchObject({ status: 'processed', outcome: 'payment_applied' });

      const other = await openInvoice(10_000);
      const stuck = stripe.paymentIntent({ amount: 10_000, currency: 'eur', metadata: other.metadata });
      const late = stripe.event('checkout.session.completed', stripe.checkoutSession(stuck));
      const { rows } = await t.db.query(`INSERT INTO webhook_events (provider, event_id, event_type, livemode, payload) VALUES ('stripe', $1, $2, false, $3) RETURNING id`, [late.id, late.type, JSON.stringify(late)]);
      stripe.failures.failNext({ path: new RegExp(`/v1/payment_intents/${stuck.id}$`) }, { status: 500 }, 3);
      await inbox.process({ eventId: rows[0].id }, { attemptsMade: 9, opts: { attempts: 10 } } as never);
      expect(await settled(String(late.id))).toMatchObject({ status: 'failed', failure_reason: expect.stringContaining('gave up after 10 attempts') });
      expect(await invoiceRow(other.id)).toMatchObject({ status: 'open', amount_paid: '0' });
    });

    it('does not apply an unpaid session (delayed methods) until async_payment_succeeded', async () => {
      const invoice = await openInvoice(10_000);
      const intent = stripe.paymentIntent({ amount: 10_000, currency: 'eur', metadata: invoice.metadata });
      const pending = stripe.event('checkout.session.completed', stripe.checkoutSession(intent, { payment_status: 'unpaid' }));
      await stripe.deliver(t, pending);
      expect(await settled(String(pending.id))).toMatchObject({ status: 'processed', outcome: 'awaiting_async_payment' });
      expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'open', amount_paid: '0' });
      const failed = stripe.event('checkout.session.async_payment_failed', stripe.checkoutSession(intent));
      await stripe.deliver(t, failed);
      expect(await settled(String(failed.id))).toMatchObject({ status: 'processed', outcome: 'checkout_failed' });
      const expired = stripe.event('checkout.session.expired', stripe.checkoutSession(intent, { status: 'expired' }));
      await stripe.deliver(t, expired);
      expect(await settled(String(expired.id))).toMatchObject({ status: 'processed', outcome: 'checkout_expired' });
      expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'open', amount_paid: '0' });
    });

    describe('refused deliveries: 400, nothing written, a security signal', () => {
      const now = () => Math.floor(Date.now() / 1000);
      it.each<[string, (payload: string) => { header?: string | null; body?: string }]>([
        ['a forged signature (another secret)', (payload) => ({ header: stripe.sign(payload, { secret: 'whsec_forged' }) })],
        ['a stale timestamp (6 minutes old)', (payload) => ({ header: stripe.sign(payload, { timestamp: now() - 360 }) })],
        ['a timestamp 6 minutes in the future', (payload) => ({ header: stripe.sign(payload, { timestamp: now() + 360 }) })],
        ['no signature', () => ({ header: null })],
        ['a garbage signature header', () => ({ header: 'not-a-signature' })],
        ['a body changed after signing', (payload) => ({ header: stripe.sign(payload), body: payload.replace('10000', '1') })],
        ['a livemode event on a test key', () => {
          const live = JSON.stringify({ ...stripe.event('checkout.session.completed', { id: 'cs_live' }), livemode: true });
          return { header: stripe.sign(live), body: live };
        }],
      ])('refuses %s', async (_name, make) => {
        const signals = t.app.get(SecuritySignals);
        const spy = jest.spyOn(signals, 'webhookVerificationFailed');
        const invoice = await openInvoice(10_000);
        const payload = JSON.stringify(stripe.event('checkout.session.completed', stripe.checkoutSession(stripe.paymentIntent({ amount: 10_000, currency: 'eur', metadata: invoice.metadata }))));
        const { header, body } = make(payload);
        const before = await counts();
        const response = await t.inject({ method: 'POST', url: '/webhooks/stripe', headers: { 'content-type': 'application/json', ...(header ? { 'stripe-signature': header } : {}) }, payload: body ?? payload });
        expect(response.statusCode).toBe(400);
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(response.json().code).toBe('webhook_signature_invalid');
        expect(spy).toHaveBeenCalledWith('stripe');
        spy.mockRestore();
        expect(await counts()).toEqual(before);
      });
    });

    describe('bad input', () => {
      it.each<[string, { body: string; contentType: string }, number]>([
        ['a body that is not JSON', { body: '{"id": "evt_1", ', contentType: 'application/json' }, 400],
        ['a huge body (2 MiB)', { body: JSON.stringify({ id: 'evt_huge', padding: 'x'.repeat(2 * 1024 * 1024) }), contentType: 'application/json' }, 413],
        ['a text body', { body: 'hello', contentType: 'text/plain' }, 415],
      ])('refuses %s before anything is written, never with a 500', async (_name, input, status) => {
        const before = await counts();
        const response = await stripe.deliver(t, input.body, { contentType: input.contentType });
        expect(response.statusCode).toBe(status);
        expect(await counts()).toEqual(before);
      });

      it.each<[string, unknown, string]>([
        ['no id', { type: 'checkout.session.completed', data: { object: {} }, nonce: randomUUID() }, 'malformed_event: missing id'],
        ['no data.object', { id: `evt_${randomUUID()}`, type: 'checkout.session.completed', livemode: false }, 'malformed_event: missing data.object'],
        ['an array', [1, 2, 3, randomUUID()], 'malformed_event: missing not a JSON object'],
      ])('stores a verified event with %s as failed and answers 200', async (_name, event, reason) => {
        const response = await stripe.deliver(t, event);
        expect(response.statusCode).toBe(200);
        const { rows } = await t.db.query('SELECT status, failure_reason FROM webhook_events ORDER BY received_at DESC LIMIT 1');
        expect(rows[0].status).toBe('failed');
        expect(rows[0].failure_reason).toContain(reason);
        // Redelivered: still one row.
        expect((await stripe.deliver(t, event)).json().duplicate).toBe(true);
      });

      it('stores a verified body that is not JSON (a signed form body) as failed, once', async () => {
        const body = `id=evt_${randomUUID()}&type=checkout.session.completed`;
        const response = await stripe.deliver(t, body, { contentType: 'application/x-www-form-urlencoded' });
        expect(response.statusCode).toBe(200);
        const { rows } = await t.db.query("SELECT status, failure_reason, event_id FROM webhook_events WHERE event_id LIKE 'sha256:%' ORDER BY received_at DESC LIMIT 1");
        expect(rows[0]).toMatchObject({ status: 'failed', failure_reason: expect.stringContaining('not a JSON object') });
        expect((await stripe.deliver(t, body, { contentType: 'application/x-www-form-urlencoded' })).json().duplicate).toBe(true);
      });

      it('marks verified events about unknown, unpayable or mismatched invoices failed with a reason, visible to admins', async () => {
        const draft = await createInvoice(t, admin, invoiceBody(customerId));
        const usd = await openInvoice(10_000);
        const cases: Array<[Record<string, string>, string, string]> = [
          [{ business_id: admin.businessId, invoice_id: randomUUID() }, 'eur', 'invoice_not_found'],
          [{ business_id: admin.businessId, invoice_id: draft.id }, 'eur', 'invoice_not_finalized'],
          [usd.metadata, 'usd', 'currency_mismatch'],
          [{ note: 'no invoice here' }, 'eur', 'missing_invoice_reference'],
        ];
        const ids: string[] = [];
        for (const [metadata, currency, reason] of cases) {
          const event = stripe.event('checkout.session.completed', stripe.checkoutSession(stripe.paymentIntent({ amount: 10_000, currency, metadata })));
          expect((await stripe.deliver(t, event)).statusCode).toBe(200);
          expect(await settled(String(event.id))).toMatchObject({ status: 'failed', failure_reason: reason });
          ids.push(String(event.id));
        }
        expect(await invoiceRow(usd.id)).toMatchObject({ status: 'open', amount_paid: '0' });
        // The worker carries on: a good event after the bad ones is applied.
        const good = await openInvoice(2_000);
        const event = stripe.event('checkout.session.completed', stripe.checkoutSession(stripe.paymentIntent({ amount: 2_000, currency: 'eur', metadata: good.metadata })));
        await stripe.deliver(t, event);
        expect(await settled(String(event.id))).toMatchObject({ status: 'processed' });

        const list = await get(t, admin, '/v1/webhook-events?status=failed&provider=stripe&limit=200');
        expect(list.statusCode).toBe(200);
        const failed = list.json().data.map((row: { eventId: string; failureReason: string }) => [row.eventId, row.failureReason]);
        expect(failed).toEqual(expect.arrayContaining(ids.slice(0, 3).map((id, index) => [id, cases[index][2]])));
        // Without a business reference an event belongs to no business: no admin sees it.
        expect(failed.map(([id]: [string]) => id)).not.toContain(ids[3]);
      });

      it('shows webhook events to admins of their own business only', async () => {
        const billing = { email: uniqueEmail('billing'), password: strongPassword() };
        await inviteAndAccept(t, admin, billing, 'billing');
        const billingSession = await mobileLogin(t, billing, { businessId: admin.businessId });
        expect((await get(t, billingSession, '/v1/webhook-events')).statusCode).toBe(403);
        const other = await readyAdmin(t, { businessName: 'Other Co' });
        const list = await get(t, other, '/v1/webhook-events');
        expect(list.statusCode).toBe(200);
        expect(list.json().data).toEqual([]);
        expect((await get(t, admin, '/v1/webhook-events?status=nonsense')).statusCode).toBe(400);
      });
    });
  });

  describe('PayPal', () => {
    const customId = (invoice: { metadata: Record<string, string> }) => `${invoice.metadata.business_id}:${invoice.metadata.invoice_id}`;

    it('applies a verified PAYMENT.CAPTURE.COMPLETED once, with fee and net, and caches the certificate', async () => {
      const invoice = await openInvoice(10_000);
      const capture = paypal.capturedPayment({ amount: '100.00', currency: 'EUR', customId: customId(invoice) });
      const event = paypal.event('PAYMENT.CAPTURE.COMPLETED', paypal.captureResource(capture));
      const certFetches = () => paypal.requests.filter((request) => request.path.includes('/certs/')).length;
      const before = certFetches();
      const responses = await Promise.all(Array.from({ length: 10 }, () => paypal.deliver(t, event)));
      expect(responses.map((response) => response.statusCode)).toEqual(Array(10).fill(200));
      expect(await settled(String(event.id), 'paypal')).toMatchObject({ status: 'processed', outcome: 'payment_applied' });
      const { rows } = await t.db.query('SELECT provider, method, amount, fee, net, capture_id, order_id FROM payments WHERE invoice_id = $1', [invoice.id]);
      expect(rows).toEqual([{ provider: 'paypal', method: 'paypal', amount: '10000', fee: '398', net: '9602', capture_id: capture.id, order_id: capture.orderId }]);
      expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'paid', amount_paid: '10000' });
      const again = paypal.event('PAYMENT.CAPTURE.COMPLETED', paypal.captureResource(capture));
      await paypal.deliver(t, again);
      expect(await settled(String(again.id), 'paypal')).toMatchObject({ outcome: 'payment_already_applied' });
      // Fetched at most once while ten verifications raced; after that the cache answers.
      expect(certFetches() - before).toBeLessThanOrEqual(1);
      const cached = certFetches();
      await paypal.deliver(t, paypal.event('PAYMENT.CAPTURE.COMPLETED', paypal.captureResource(capture)));
      expect(certFetches()).toBe(cached);
    });

    it('does not apply a PENDING capture until PayPal confirms it, nor a DENIED one', async () => {
      const invoice = await openInvoice(10_000);
      const capture = paypal.capturedPayment({ amount: '100.00', currency: 'EUR', customId: customId(invoice), status: 'PENDING' });
      const pending = paypal.event('PAYMENT.CAPTURE.PENDING', paypal.captureResource(capture));
      await paypal.deliver(t, pending);
      expect(await settled(String(pending.id), 'paypal')).toMatchObject({ status: 'processed', outcome: 'capture_pending_not_applied' });
      expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'open', amount_paid: '0' });
      capture.status = 'COMPLETED';
      const completed = paypal.event('PAYMENT.CAPTURE.COMPLETED', paypal.captureResource(capture));
      await paypal.deliver(t, completed);
      expect(await settled(String(completed.id), 'paypal')).toMatchObject({ outcome: 'payment_applied' });
      expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'paid' });

      const other = await openInvoice(10_000);
      const denied = paypal.capturedPayment({ amount: '100.00', currency: 'EUR', customId: customId(other), status: 'DECLINED' });
      const event = paypal.event('PAYMENT.CAPTURE.DENIED', paypal.captureResource(denied));
      await paypal.deliver(t, event);
      expect(await settled(String(event.id), 'paypal')).toMatchObject({ outcome: 'capture_denied' });
      expect(await invoiceRow(other.id)).toMatchObject({ status: 'open', amount_paid: '0' });
    });

    it('records a refund that arrives before its capture (the capture is applied from PayPal first), and a reversal', async () => {
      const invoice = await openInvoice(10_000);
      const capture = paypal.capturedPayment({ amount: '100.00', currency: 'EUR', customId: customId(invoice) });
      const refunded = paypal.event('PAYMENT.CAPTURE.REFUNDED', paypal.refundResource(capture, '25.00'));
      await paypal.deliver(t, refunded);
      expect(await settled(String(refunded.id), 'paypal')).toMatchObject({ status: 'processed', outcome: 'refund_recorded' });
      const completed = paypal.event('PAYMENT.CAPTURE.COMPLETED', paypal.captureResource(capture));
      await paypal.deliver(t, completed);
      expect(await settled(String(completed.id), 'paypal')).toMatchObject({ outcome: 'payment_already_applied' });
      expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'partially_paid', amount_paid: '7500' });

      const reversal = paypal.event('PAYMENT.CAPTURE.REVERSED', paypal.refundResource(capture, '75.00'));
      await paypal.deliver(t, reversal);
      expect(await settled(String(reversal.id), 'paypal')).toMatchObject({ outcome: 'reversal_recorded' });
      const { rows } = await t.db.query('SELECT kind, origin, amount, status FROM refunds WHERE invoice_id = $1 ORDER BY created_at', [invoice.id]);
      expect(rows).toEqual([
        { kind: 'refund', origin: 'provider', amount: '2500', status: 'succeeded' },
        { kind: 'reversal', origin: 'provider', amount: '7500', status: 'succeeded' },
      ]);
      expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'open', amount_paid: '0' });
    });

    describe('refused transmissions: 401, nothing written, a security signal', () => {
      it.each<[string, (raw: string) => SignOptions & { headers?: Record<string, string | undefined>; body?: string }]>([
        ['a signature by another key', () => ({ privateKey: selfSignedCertificate('messageverificationcerts.sandbox.paypal.com').privateKey })],
        ['a body changed after signing', (raw) => ({ headers: paypal.sign(raw), body: raw.replace('100.00', '1.00') })],
        ['a stale transmission (6 minutes old)', () => ({ time: new Date(Date.now() - 6 * 60_000).toISOString() })],
        ['a transmission time in the future', () => ({ time: new Date(Date.now() + 6 * 60_000).toISOString() })],
        ['another webhook id', () => ({ webhookId: 'WH-SOMEONE-ELSE' })],
        ['a certificate from a host that is not PayPal', () => ({ certUrl: 'https://evil.example/v1/notifications/certs/CERT-ledgerline-test' })],
        ['a certificate over plain http from PayPal', () => ({ certUrl: 'http://api.paypal.com/v1/notifications/certs/CERT-1' })],
        ['a certificate URL that serves no certificate', () => ({ certUrl: `${paypal.url}/v1/notifications/certs/CERT-missing` })],
        ['another algorithm', () => ({ algo: 'SHA1withRSA' })],
        ['missing transmission headers', () => ({ headers: { 'paypal-transmission-id': undefined } })],
      ])('refuses %s', async (_name, make) => {
        const signals = t.app.get(SecuritySignals);
        const spy = jest.spyOn(signals, 'webhookVerificationFailed');
        const invoice = await openInvoice(10_000);
        const capture = paypal.capturedPayment({ amount: '100.00', currency: 'EUR', customId: customId(invoice) });
        const raw = JSON.stringify(paypal.event('PAYMENT.CAPTURE.COMPLETED', paypal.captureResource(capture)));
        const options = make(raw);
        const before = await counts();
        const response = options.body
          ? await t.inject({ method: 'POST', url: '/webhooks/paypal', headers: { 'content-type': 'application/json', ...(options.headers as Record<string, string>) }, payload: options.body })
          : await paypal.deliver(t, raw, options);
        expect(response.statusCode).toBe(401);
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(spy).toHaveBeenCalledWith('paypal');
        spy.mockRestore();
        expect(await counts()).toEqual(before);
      });
    });
  });
});
