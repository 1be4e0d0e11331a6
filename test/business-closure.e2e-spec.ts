import { BusinessClosureService } from '../src/compliance/business-closure.service.js';
import { RetentionService } from '../src/compliance/retention.service.js';
import { startTestApp, type TestApp } from './harness/app.js';
import {
  enrollMfa, fromFreshIps, inviteAndAccept, lastEmailTo, login, mobileLogin, nextTotp, readyAdmin, strongPassword, tokenIn, uniqueEmail, waitFor, wrongTotp, type TestAccount,
} from './harness/identity.js';

type Response = Awaited<ReturnType<TestApp['inject']>>;
const LINES = [{ description: 'Roof inspection', quantity: 1, unitPrice: 20_000, taxRateBps: 2000 }];

/**
 * Closing a business: the export offered first, re-authentication, then everything stops at once
 * (signed links answer 401, sessions and API access end, members cannot sign in, sending stops),
 * and the identifying data is erased once the retention period is over.
 */
describe('business closure', () => {
  let app: TestApp;
  let t: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
    app.db.on('error', () => undefined);
    t = fromFreshIps(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  const expectProblem = (response: Response, status: number, code?: string): void => {
    expect({ status: response.statusCode, body: response.json() }).toEqual({ status, body: expect.objectContaining(code ? { code } : {}) });
    expect(response.headers['content-type']).toContain('application/problem+json');
  };
  const call = (account: { auth: { authorization: string } }, method: 'GET' | 'POST', url: string, payload?: object): Promise<Response> =>
    t.inject({ method, url, headers: account.auth, ...(payload ? { payload } : {}) });

  async function member(by: TestAccount, role: 'admin' | 'billing' | 'viewer'): Promise<TestAccount> {
    const invitee = { email: uniqueEmail(role), password: strongPassword() };
    const joined = await inviteAndAccept(t, by, invitee, role);
    const session = await mobileLogin(t, invitee, { businessId: joined.businessId });
    const account: TestAccount = { ...invitee, userId: joined.userId, businessId: joined.businessId, accessToken: session.accessToken, refreshToken: session.refreshToken, auth: session.auth };
    return role === 'viewer' ? account : enrollMfa(t, account);
  }

  /** Why the last failed login of a user failed (auth.login.failed detail.reason). */
  async function lastLoginFailure(userId: string): Promise<string | undefined> {
    const { rows } = await app.db.query(`SELECT detail->>'reason' AS reason FROM audit_events WHERE action = 'auth.login.failed' AND entity_id = $1 ORDER BY id DESC LIMIT 1`, [userId]);
    return rows[0]?.reason;
  }

  /** A business with a customer, a sent invoice with a signed link, a recurring template, a member, a pending invitation and a queued email. */
  async function busyBusiness(name: string) {
    const admin = await readyAdmin(t, { businessName: name });
    const billing = await member(admin, 'billing');
    const customerId = (await call(admin, 'POST', '/v1/customers', { name: 'Dora Customer', email: `dora.${admin.businessId.slice(0, 8)}@customer.example`, phone: '+44 20 7946 0000', notes: 'Gate code 4411' })).json().id as string;
    const invoiceId = (await call(admin, 'POST', '/v1/invoices', { customerId, currency: 'EUR', lines: LINES })).json().id as string;
    expect((await call(admin, 'POST', `/v1/invoices/${invoiceId}/finalize`)).statusCode).toBe(200);
    expect((await call(admin, 'POST', `/v1/invoices/${invoiceId}/send`)).statusCode).toBe(200);
    const link = await call(admin, 'POST', `/v1/invoices/${invoiceId}/link`);
    expect(link.statusCode).toBe(200);
    const url = new URL(link.json().url as string);
    const recurring = await call(admin, 'POST', '/v1/recurring-invoices', { customerId, currency: 'EUR', lines: LINES, schedule: { every: 1, unit: 'month', startDate: '2030-01-01' } });
    expect(recurring.statusCode).toBe(201);
    const invitee = uniqueEmail('pending');
    expect((await call(admin, 'POST', '/v1/members/invitations', { email: invitee, role: 'viewer' })).statusCode).toBe(201);
    // An email still waiting for its turn (written, not yet sent).
    const { rows: [queued] } = await app.db.query(
      `INSERT INTO emails (business_id, to_address, template, subject, text_body, html_body) VALUES ($1, 'later@customer.example', 'invoice', 'Later', 'x', 'x') RETURNING id`,
      [admin.businessId],
    );
    return { admin, billing, customerId, invoiceId, linkPath: `${url.pathname}${url.search}`, recurringId: recurring.json().id as string, invitee, queuedEmailId: queued.id as string };
  }

  it('offers the full export first: closing without a recent one needs an explicit acknowledgement (409 export_first)', async () => {
    const { admin, billing, customerId, invoiceId } = await busyBusiness('Export First');
    expectProblem(await call(admin, 'POST', '/v1/business/close', { password: admin.password, code: nextTotp(admin.mfaSecret!) }), 409, 'export_first');
    expectProblem(await call(billing, 'GET', '/v1/business/export'), 403, 'role_not_allowed');
    expectProblem(await call(billing, 'POST', '/v1/business/close', { password: billing.password, code: nextTotp(billing.mfaSecret!), acknowledgeNoExport: true }), 403, 'role_not_allowed');

    const exported = await call(admin, 'GET', '/v1/business/export');
    expect(exported.statusCode).toBe(200);
    expect(exported.headers['content-disposition']).toBe(`attachment; filename="business-${admin.businessId}.json"`);
    const body = exported.json();
    expect(body).toMatchObject({
      format: 'ledgerline-business-export.v1',
      business: { id: admin.businessId, name: 'Export First', retentionYears: 7 },
      customers: [expect.objectContaining({ id: customerId, name: 'Dora Customer', taxId: null })],
      invoices: [expect.objectContaining({ id: invoiceId, lines: [expect.objectContaining({ description: 'Roof inspection' })] })],
      recurringInvoices: [expect.any(Object)],
      auditTrail: { headSeq: expect.any(String), headHash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    expect(body.members.map((row: { role: string }) => row.role).sort()).toEqual(['admin', 'billing']);
    expect(body.emails.length).toBeGreaterThan(0);
    expect(JSON.stringify(body)).not.toMatch(/passwordHash|mfaSecret|taxIdEncrypted|tokenHash/);
    const { rows } = await app.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE business_id = $1 AND action = 'business.exported'`, [admin.businessId]);
    expect(rows[0].n).toBe(1);
  });

  it('needs the password and a fresh code (401), and changes nothing when they are wrong', async () => {
    const { admin } = await busyBusiness('Wrong Code');
    expectProblem(await call(admin, 'POST', '/v1/business/close', { password: admin.password, code: wrongTotp(admin.mfaSecret!), acknowledgeNoExport: true }), 401, 'reauthentication_failed');
    expectProblem(await call(admin, 'POST', '/v1/business/close', { password: 'not-the-password-at-all', code: nextTotp(admin.mfaSecret!), acknowledgeNoExport: true }), 401, 'reauthentication_failed');
    expectProblem(await call(admin, 'POST', '/v1/business/close', { code: nextTotp(admin.mfaSecret!), acknowledgeNoExport: true }), 400);
    const { rows } = await app.db.query('SELECT closed_at, link_epoch FROM businesses WHERE id = $1', [admin.businessId]);
    expect(rows[0]).toEqual({ closed_at: null, link_epoch: 0 });
    expect((await call(admin, 'GET', '/v1/auth/me')).statusCode).toBe(200);
  });

  it('stops sending, severs every signed link, revokes all sessions and API access; members cannot sign in', async () => {
    const { admin, billing, invoiceId, linkPath, recurringId, invitee, queuedEmailId } = await busyBusiness('Closing Down');
    // A second admin closes it, so the first one's next code is unspent for the sign-in attempt below.
    const closer = await member(admin, 'admin');
    // A viewer (no MFA needed) who also belongs to another business, which stays open.
    const viewer = await member(admin, 'viewer');
    const elsewhere = await readyAdmin(t, { businessName: 'Still Trading' });
    await inviteAndAccept(t, elsewhere, { email: viewer.email, password: viewer.password }, 'viewer');

    expect((await t.inject({ method: 'GET', url: linkPath })).statusCode).toBe(200);
    expect((await call(closer, 'GET', '/v1/business/export')).statusCode).toBe(200);
    const closed = await call(closer, 'POST', '/v1/business/close', { password: closer.password, code: nextTotp(closer.mfaSecret!), reason: 'Retiring' });
    expect(closed.statusCode).toBe(200);
    const result = closed.json();
    expect(result).toEqual({
      closedAt: expect.any(String),
      linkEpoch: 1,
      identifyingDataEraseAfter: expect.any(String),
      sessionsRevoked: expect.any(Number),
      invitationsRevoked: 1,
      emailsCancelled: 1,
      recurringInvoicesPaused: 1,
    });
    expect(result.sessionsRevoked).toBeGreaterThanOrEqual(4);
    // Erasure after the retention period: 7 years after the end of the current fiscal year (December).
    expect(result.identifyingDataEraseAfter).toBe(`${new Date().getUTCFullYear() + 8}-01-01T00:00:00.000Z`);

    // Links: 401, for the page and the PDF behind it.
    expect((await t.inject({ method: 'GET', url: linkPath })).statusCode).toBe(401);
    const [path, query] = linkPath.split('?');
    expect((await t.inject({ method: 'GET', url: `${path}/pdf?${query}` })).statusCode).toBe(401);

    // Sessions and API access: every token of the business is refused at its next request.
    expectProblem(await call(closer, 'GET', '/v1/auth/me'), 401);
    expectProblem(await call(admin, 'GET', '/v1/invoices'), 401);
    expectProblem(await call(billing, 'GET', '/v1/invoices'), 401);
    expectProblem(await call(viewer, 'GET', '/v1/invoices'), 401);
    expectProblem(await t.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: admin.refreshToken } }), 401);
    expectProblem(await call(closer, 'POST', '/v1/business/close', { password: closer.password, code: nextTotp(closer.mfaSecret!), acknowledgeNoExport: true }), 401);

    // Members cannot sign in to it, even with the right password and code.
    expectProblem(await login(t, { email: admin.email, password: admin.password, mfaCode: nextTotp(admin.mfaSecret!), client: 'mobile' }), 401, 'invalid_credentials');
    expect(await lastLoginFailure(admin.userId)).toBe('no_membership');
    expectProblem(await login(t, { email: viewer.email, password: viewer.password, businessId: admin.businessId, client: 'mobile' }), 401, 'invalid_credentials');
    expect(await lastLoginFailure(viewer.userId)).toBe('no_membership');
    // The viewer still reaches the other business.
    const other = await login(t, { email: viewer.email, password: viewer.password, client: 'mobile' });
    expect(other.statusCode).toBe(200);
    expect(other.json().businessId).toBe(elsewhere.businessId);

    // Invitations are void; sending stopped; recurring invoices paused.
    const invitation = await lastEmailTo(app, invitee, 'invitation');
    expectProblem(await t.inject({ method: 'POST', url: '/v1/auth/invitations/accept', payload: { token: tokenIn(invitation!.text_body, 'invitation code'), name: 'Late Joiner', password: strongPassword() } }), 401, 'invalid_invitation');
    expect((await app.db.query('SELECT status FROM emails WHERE id = $1', [queuedEmailId])).rows[0].status).toBe('cancelled');
    expect((await app.db.query('SELECT status FROM recurring_invoices WHERE id = $1', [recurringId])).rows[0].status).toBe('paused');
    const { rows: [business] } = await app.db.query('SELECT closed_at, closed_by, link_epoch, closure_reason FROM businesses WHERE id = $1', [admin.businessId]);
    expect(business).toMatchObject({ closed_by: closer.userId, link_epoch: 1, closure_reason: 'Retiring' });
    expect((await app.db.query('SELECT count(*)::int AS n FROM sessions WHERE business_id = $1 AND revoked_at IS NULL', [admin.businessId])).rows[0].n).toBe(0);

    // Audited, with one security event and one alert per admin.
    expect((await app.db.query(`SELECT detail FROM audit_events WHERE business_id = $1 AND action = 'business.closed'`, [admin.businessId])).rows[0].detail).toMatchObject({ linkEpoch: 1, reason: 'Retiring' });
    await waitFor(async () => (await app.db.query(`SELECT 1 FROM security_events WHERE business_id = $1 AND kind = 'business_closed'`, [admin.businessId])).rowCount, { what: 'business_closed event' });
    for (const person of [admin, closer]) {
      const alerts = await app.db.query(`SELECT count(*)::int AS n FROM emails WHERE to_address = $1 AND template = 'securityEvent' AND subject LIKE '%closed%'`, [person.email]);
      expect({ to: person.email, alerts: alerts.rows[0].n }).toEqual({ to: person.email, alerts: 1 });
    }
    // The invoice record is still there for the retention period.
    expect((await app.db.query('SELECT number FROM invoices WHERE id = $1', [invoiceId])).rows[0].number).toMatch(/^INV-/);
  });

  it('erases the identifying data once the retention period has ended (scheduled), and only then', async () => {
    const { admin, customerId } = await busyBusiness('Long Gone');
    expect((await call(admin, 'POST', '/v1/business/close', { password: admin.password, code: nextTotp(admin.mfaSecret!), acknowledgeNoExport: true })).statusCode).toBe(200);
    const closure = app.app.get(BusinessClosureService);
    // Not yet due: nothing happens.
    expect(await closure.eraseClosedBusiness({ businessId: admin.businessId })).toEqual({ erased: false, customers: 0 });
    expect((await app.db.query('SELECT name FROM customers WHERE id = $1', [customerId])).rows[0].name).toBe('Dora Customer');

    await app.db.query(`UPDATE businesses SET identifying_data_erase_after = now() - interval '1 day' WHERE id = $1`, [admin.businessId]);
    await app.app.get(RetentionService).scheduleAll(new Date());
    await waitFor(async () => (await app.db.query('SELECT identifying_data_erased_at FROM businesses WHERE id = $1', [admin.businessId])).rows[0].identifying_data_erased_at, { what: 'the scheduled erasure', timeoutMs: 30_000 });
    const { rows: [customer] } = await app.db.query('SELECT name, email, phone, notes FROM customers WHERE id = $1', [customerId]);
    expect(customer).toEqual({ name: 'Erased customer', email: null, phone: null, notes: null });
    const { rows: [business] } = await app.db.query('SELECT name, address FROM businesses WHERE id = $1', [admin.businessId]);
    expect(business).toEqual({ name: 'Closed business', address: null });
    const leftovers = await app.db.query(`SELECT count(*)::int AS n FROM emails WHERE business_id = $1 AND (to_address LIKE '%dora%' OR text_body LIKE '%Dora%')`, [admin.businessId]);
    expect(leftovers.rows[0].n).toBe(0);
    expect((await app.db.query('SELECT count(*)::int AS n FROM customer_erasures WHERE business_id = $1', [admin.businessId])).rows[0].n).toBe(1);
    // A rerun is a no-op.
    expect(await closure.eraseClosedBusiness({ businessId: admin.businessId })).toEqual({ erased: false, customers: 0 });
    expect((await app.db.query(`SELECT actor_type FROM audit_events WHERE business_id = $1 AND action = 'business.identifying_data_erased'`, [admin.businessId])).rows).toEqual([{ actor_type: 'system' }]);
  });
});
