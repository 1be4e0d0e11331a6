import { RequestMethod } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { IS_PUBLIC } from '../src/auth/public.decorator.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { readyAdmin, type TestAccount } from './harness/identity.js';

/**
 * Two businesses; every id-taking route of one is called with the ids of the other. A foreign
 * id must answer 404 (never 403, which would confirm it exists) and change nothing.
 */
describe('tenant isolation', () => {
  let t: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;
  let bobSessionId: string;
  let bobCustomerId: string;
  let bobInvoiceId: string;
  let bobRecurringId: string;
  let bobEstimateId: string;
  let bobPaymentId: string;
  let bobRefundId: string;
  let bobEmailId: string;
  let bobSuppressionId: string;

  beforeAll(async () => {
    t = await startTestApp();
    alice = await readyAdmin(t, { businessName: 'Alice Electric' });
    bob = await readyAdmin(t, { businessName: 'Bob Roofing' });
    const sessions = await t.inject({ method: 'GET', url: '/v1/auth/sessions', headers: bob.auth });
    bobSessionId = sessions.json().data[0].id;
    const customer = await t.inject({ method: 'POST', url: '/v1/customers', headers: bob.auth, payload: { name: 'Bob’s client', email: 'client@example.test' } });
    bobCustomerId = customer.json().id;
    const lines = [{ description: 'Roof repair', quantity: 1, unitPrice: 10_000, taxRateBps: 2000 }];
    const invoice = await t.inject({ method: 'POST', url: '/v1/invoices', headers: bob.auth, payload: { customerId: bobCustomerId, currency: 'EUR', lines } });
    bobInvoiceId = invoice.json().id;
    await t.inject({ method: 'POST', url: `/v1/invoices/${bobInvoiceId}/finalize`, headers: bob.auth });
    const recurring = await t.inject({
      method: 'POST',
      url: '/v1/recurring-invoices',
      headers: bob.auth,
      payload: { customerId: bobCustomerId, currency: 'EUR', lines, schedule: { every: 1, unit: 'month', startDate: '2027-01-01' } },
    });
    bobRecurringId = recurring.json().id;
    const estimate = await t.inject({ method: 'POST', url: '/v1/estimates', headers: bob.auth, payload: { customerId: bobCustomerId, currency: 'EUR', lines } });
    bobEstimateId = estimate.json().id;
    await t.inject({ method: 'POST', url: `/v1/estimates/${bobEstimateId}/send`, headers: bob.auth });
    const today = new Date().toISOString().slice(0, 10);
    const payment = await t.inject({ method: 'POST', url: `/v1/invoices/${bobInvoiceId}/payments`, headers: { ...bob.auth, 'idempotency-key': 'tenancy-1' }, payload: { amount: 100, method: 'cash', receivedOn: today } });
    bobPaymentId = payment.json().id;
    const refund = await t.inject({ method: 'POST', url: `/v1/payments/${bobPaymentId}/refunds`, headers: bob.auth, payload: { amount: 50, reason: 'Overcharged' } });
    bobRefundId = refund.json().id;
    // The estimate email sent above, and a suppression of an address in Bob's business.
    bobEmailId = (await t.db.query('SELECT id FROM emails WHERE business_id = $1 ORDER BY created_at DESC LIMIT 1', [bob.businessId])).rows[0].id;
    bobSuppressionId = (await t.db.query(`INSERT INTO email_suppressions (business_id, address, reason) VALUES ($1, 'bounced@example.test', 'hard_bounce') RETURNING id`, [bob.businessId])).rows[0].id;
    expect([customer.statusCode, invoice.statusCode, recurring.statusCode, estimate.statusCode, payment.statusCode, refund.statusCode]).toEqual([201, 201, 201, 201, 201, 201]);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** For each route parameter, the other business's id of that kind. Extend it with every new id-taking route. */
  const foreignIds = (): Record<string, string> => ({
    'DELETE /v1/auth/sessions/:id': bobSessionId,
    'PATCH /v1/members/:userId': bob.userId,
    'DELETE /v1/members/:userId': bob.userId,
    'GET /v1/customers/:id': bobCustomerId,
    'PATCH /v1/customers/:id': bobCustomerId,
    'DELETE /v1/customers/:id': bobCustomerId,
    'GET /v1/invoices/:id': bobInvoiceId,
    'PATCH /v1/invoices/:id': bobInvoiceId,
    'DELETE /v1/invoices/:id': bobInvoiceId,
    'POST /v1/invoices/:id/finalize': bobInvoiceId,
    'POST /v1/invoices/:id/send': bobInvoiceId,
    'POST /v1/invoices/:id/void': bobInvoiceId,
    'GET /v1/invoices/:id/versions': bobInvoiceId,
    'GET /v1/invoices/:id/credit-notes': bobInvoiceId,
    'POST /v1/invoices/:id/credit-notes': bobInvoiceId,
    'GET /v1/invoices/:id/pdf': bobInvoiceId,
    'GET /v1/recurring-invoices/:id': bobRecurringId,
    'PATCH /v1/recurring-invoices/:id': bobRecurringId,
    'DELETE /v1/recurring-invoices/:id': bobRecurringId,
    'POST /v1/recurring-invoices/:id/pause': bobRecurringId,
    'POST /v1/recurring-invoices/:id/resume': bobRecurringId,
    'GET /v1/recurring-invoices/:id/occurrences': bobRecurringId,
    'GET /v1/estimates/:id': bobEstimateId,
    'PATCH /v1/estimates/:id': bobEstimateId,
    'DELETE /v1/estimates/:id': bobEstimateId,
    'POST /v1/estimates/:id/send': bobEstimateId,
    'POST /v1/estimates/:id/accept': bobEstimateId,
    'POST /v1/estimates/:id/decline': bobEstimateId,
    'POST /v1/estimates/:id/convert': bobEstimateId,
    'POST /v1/invoices/:id/link': bobInvoiceId,
    'GET /v1/invoices/:id/opens': bobInvoiceId,
    'POST /v1/estimates/:id/link': bobEstimateId,
    'GET /v1/estimates/:id/opens': bobEstimateId,
    'POST /v1/invoices/:id/payments': bobInvoiceId,
    'GET /v1/invoices/:id/payments': bobInvoiceId,
    'POST /v1/invoices/:id/mark-paid': bobInvoiceId,
    'GET /v1/payments/:id': bobPaymentId,
    'POST /v1/payments/:id/refunds': bobPaymentId,
    'GET /v1/refunds/:id': bobRefundId,
    'POST /v1/refunds/:id/approve': bobRefundId,
    'POST /v1/refunds/:id/reject': bobRefundId,
    'GET /v1/customers/:id/export': bobCustomerId,
    'POST /v1/customers/:id/erase': bobCustomerId,
    'GET /v1/emails/:id': bobEmailId,
    'DELETE /v1/email-suppressions/:id': bobSuppressionId,
  });
  const bodies: Record<string, unknown> = {
    'PATCH /v1/members/:userId': { role: 'viewer' },
    'PATCH /v1/customers/:id': { name: 'Taken over' },
    'PATCH /v1/invoices/:id': { notes: 'Taken over' },
    'POST /v1/invoices/:id/void': { reason: 'Taken over' },
    'POST /v1/invoices/:id/credit-notes': { amount: 100, reason: 'Taken over' },
    'PATCH /v1/recurring-invoices/:id': { notes: 'Taken over' },
    'PATCH /v1/estimates/:id': { notes: 'Taken over' },
    'POST /v1/invoices/:id/payments': { amount: 100, method: 'cash', receivedOn: '2026-11-20' },
    'POST /v1/invoices/:id/mark-paid': {},
    'POST /v1/payments/:id/refunds': { amount: 10, reason: 'Taken over' },
    'POST /v1/refunds/:id/reject': {},
    'POST /v1/customers/:id/erase': { reason: 'Taken over', password: 'Not-the-password-1', code: '000000' },
  };

  function idTakingRoutes(): Array<{ method: string; path: string }> {
    const discovery = t.app.get(DiscoveryService);
    const scanner = t.app.get(MetadataScanner);
    const routes: Array<{ method: string; path: string }> = [];
    for (const wrapper of discovery.getControllers()) {
      if (!wrapper.metatype || !wrapper.instance) continue;
      const base = String(Reflect.getMetadata('path', wrapper.metatype) ?? '');
      const prototype = Object.getPrototypeOf(wrapper.instance) as Record<string, (...args: unknown[]) => unknown>;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        const path = Reflect.getMetadata('path', handler) as string | undefined;
        const method = Reflect.getMetadata('method', handler) as RequestMethod | undefined;
        if (path === undefined || method === undefined || Reflect.getMetadata(IS_PUBLIC, handler)) continue;
        const full = `/${[base, path].map((part) => part.replace(/^\/|\/$/g, '')).filter(Boolean).join('/')}`;
        if (full.includes(':')) routes.push({ method: RequestMethod[method], path: full });
      }
    }
    return routes;
  }

  it('knows a foreign id for every id-taking route', () => {
    const routes = idTakingRoutes().map((route) => `${route.method} ${route.path}`);
    expect(routes.length).toBeGreaterThan(0);
    expect(routes.filter((route) => !(route in foreignIds()))).toEqual([]);
  });

  it('answers 404 to every id-taking route called with another business’s id, and changes nothing', async () => {
    const before = await snapshot();
    for (const route of idTakingRoutes()) {
      const key = `${route.method} ${route.path}`;
      const url = route.path.replace(/:\w+/, foreignIds()[key]);
      const response = await t.inject({ method: route.method as 'GET', url, headers: alice.auth, payload: bodies[key] as object | undefined });
      expect({ key, status: response.statusCode }).toEqual({ key, status: 404 });
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
    expect(await snapshot()).toEqual(before);
    // Bob's session still works.
    expect((await t.inject({ method: 'GET', url: '/v1/members', headers: bob.auth })).statusCode).toBe(200);
  });

  it('lists only the caller’s own business members', async () => {
    const response = await t.inject({ method: 'GET', url: '/v1/members', headers: alice.auth });
    expect(response.json().data.map((member: { userId: string }) => member.userId)).toEqual([alice.userId]);
  });

  async function snapshot(): Promise<unknown> {
    const memberships = await t.db.query('SELECT business_id, user_id, role FROM memberships ORDER BY business_id, user_id');
    const sessions = await t.db.query('SELECT id, revoked_at FROM sessions ORDER BY id');
    const customers = await t.db.query('SELECT id, name, updated_at FROM customers ORDER BY id');
    const invoices = await t.db.query('SELECT id, status, version, notes, send_count, credited_total, updated_at FROM invoices ORDER BY id');
    const recurring = await t.db.query('SELECT id, status, version, notes FROM recurring_invoices ORDER BY id');
    const creditNotes = await t.db.query('SELECT count(*) FROM credit_notes');
    const estimates = await t.db.query('SELECT id, status, version, notes, send_count, updated_at FROM estimates ORDER BY id');
    const links = await t.db.query('SELECT id, link_epoch FROM businesses ORDER BY id');
    const suppressions = await t.db.query('SELECT id, cleared_at FROM email_suppressions ORDER BY id');
    const money = await t.db.query('SELECT (SELECT count(*) FROM payments) AS payments, (SELECT count(*) FROM refunds) AS refunds, (SELECT json_agg(status ORDER BY id) FROM refunds) AS refund_states, (SELECT json_agg(amount_paid ORDER BY id) FROM invoices) AS paid');
    return { memberships: memberships.rows, sessions: sessions.rows, customers: customers.rows, invoices: invoices.rows, recurring: recurring.rows, creditNotes: creditNotes.rows, estimates: estimates.rows, links: links.rows, money: money.rows, suppressions: suppressions.rows };
  }
});
