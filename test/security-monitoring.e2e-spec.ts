import { randomBytes, randomUUID } from 'node:crypto';
import { metricsToken } from '../src/security/metrics-token.js';
import { SecurityScanner } from '../src/security/security-scanner.js';
import { SecuritySignals } from '../src/security/security-signals.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { bearer, enrollMfa, freshIp, fromFreshIps, inviteAndAccept, login, mobileLogin, nextTotp, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';

type Response = Awaited<ReturnType<TestApp['inject']>>;
const LINES = [{ description: 'Fuse box', quantity: 1, unitPrice: 5_000, taxRateBps: 2000 }];
const OLD_LINK_KEY = `k20200101:${randomBytes(36).toString('base64url')}`;

/**
 * Security monitoring end to end: security events raised from the audit trail and from the
 * webhook failure counter, one event and one alert per burst (not per occurrence), the admin's
 * list and posture report, and the Prometheus metrics behind their token.
 */
describe('security monitoring', () => {
  let app: TestApp;
  let t: TestApp;
  let scanner: SecurityScanner;

  beforeAll(async () => {
    app = await startTestApp({
      env: {
        LINK_SIGNING_KEYS: OLD_LINK_KEY,
        STRIPE_SECRET_KEY: `sk_test_${randomBytes(24).toString('hex')}`,
        STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('hex')}`,
        OPERATOR_ALERT_EMAILS: 'ops@ledgerline.test, oncall@ledgerline.test',
      },
    });
    app.db.on('error', () => undefined);
    t = fromFreshIps(app);
    scanner = app.app.get(SecurityScanner);
  });
  afterAll(async () => {
    await app?.close();
  });

  const expectProblem = (response: Response, status: number, code?: string): void => {
    expect({ status: response.statusCode, body: response.json() }).toEqual({ status, body: expect.objectContaining(code ? { code } : {}) });
    expect(response.headers['content-type']).toContain('application/problem+json');
  };
  const call = (account: { auth: { authorization: string } }, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object): Promise<Response> =>
    t.inject({ method, url, headers: account.auth, ...(payload ? { payload } : {}) });

  async function member(by: TestAccount, role: 'admin' | 'billing' | 'viewer'): Promise<TestAccount> {
    const invitee = { email: uniqueEmail(role), password: strongPassword() };
    const joined = await inviteAndAccept(t, by, invitee, role);
    const session = await mobileLogin(t, invitee, { businessId: joined.businessId });
    const account: TestAccount = { ...invitee, userId: joined.userId, businessId: joined.businessId, accessToken: session.accessToken, refreshToken: session.refreshToken, auth: session.auth };
    return role === 'viewer' ? account : enrollMfa(t, account);
  }

  type EventRow = { id: string; kind: string; occurrences: number; alerted_at: Date | null; alert_recipients: number; business_id: string | null; detail: Record<string, unknown> };
  const eventsOf = async (businessId: string | null, kind: string): Promise<EventRow[]> =>
    (await app.db.query<EventRow>('SELECT id, kind, occurrences, alerted_at, alert_recipients, business_id, detail FROM security_events WHERE business_id IS NOT DISTINCT FROM $1 AND kind = $2 ORDER BY first_seen_at', [businessId, kind])).rows;
  const alertsTo = async (email: string, titleFragment: string): Promise<number> =>
    (await app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM emails WHERE to_address = $1 AND template = 'securityEvent' AND subject LIKE $2`, [email, `%${titleFragment}%`])).rows[0].n;

  /** Scans until the event shows `occurrences` (the worker's interval scans too; scans are exactly-once). */
  async function settle(businessId: string | null, kind: string, occurrences: number): Promise<EventRow[]> {
    return waitFor(async () => {
      await scanner.scanOnce();
      const rows = await eventsOf(businessId, kind);
      return rows.length > 0 && rows.reduce((sum, row) => sum + row.occurrences, 0) >= occurrences ? rows : undefined;
    }, { what: `${kind} x${occurrences}`, timeoutMs: 20_000 });
  }

  describe('events from the audit trail, once per burst', () => {
    it('turns 12 failed sign-ins to one account into one event and one alert per admin', async () => {
      const owner = await readyAdmin(t, { businessName: 'Targeted Ltd' });
      const partner = await member(owner, 'admin');
      for (let i = 0; i < 12; i += 1) {
        const response = await login(t, { email: owner.email, password: 'Wrong-password-123', client: 'mobile' }, { remoteAddress: freshIp() });
        expect(response.statusCode).toBe(401);
      }
      const events = await settle(owner.businessId, 'failed_logins_account', 12);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ occurrences: 12, alert_recipients: 2, detail: expect.objectContaining({ userId: owner.userId }) });
      expect(events[0].alerted_at).not.toBeNull();
      // More scans add nothing.
      await scanner.scanOnce();
      await scanner.scanOnce();
      expect(await eventsOf(owner.businessId, 'failed_logins_account')).toHaveLength(1);
      for (const person of [owner, partner]) expect({ to: person.email, alerts: await alertsTo(person.email, 'failed sign-ins to an account') }).toEqual({ to: person.email, alerts: 1 });
    });

    it('counts failed sign-ins from one address across accounts (below the per-address rate limit)', async () => {
      const owner = await readyAdmin(t, { businessName: 'Sprayed Inc' });
      const colleague = await member(owner, 'billing');
      const ip = `203.0.113.${Math.floor(Math.random() * 200) + 20}`;
      const targets = [owner.email, colleague.email, uniqueEmail('nobody')];
      for (let i = 0; i < 9; i += 1) {
        const response = await login(app, { email: targets[i % 3], password: 'Wrong-password-123', client: 'mobile' }, { remoteAddress: ip });
        expect(response.statusCode).toBe(401);
      }
      const events = await settle(owner.businessId, 'failed_logins_ip', 9);
      expect(events).toHaveLength(1);
      expect(events[0].detail).toMatchObject({ ip });
      expect(await alertsTo(owner.email, 'failed sign-ins from one address')).toBe(1);
      // The accounts themselves did not reach their own threshold (3 each).
      expect(await eventsOf(owner.businessId, 'failed_logins_account')).toEqual([]);
    });

    it('raises a reused refresh token once, however many follow in the burst', async () => {
      const owner = await readyAdmin(t, { businessName: 'Token Thieves' });
      const second = await mobileLogin(t, { email: owner.email, password: owner.password }, { mfaCode: nextTotp(owner.mfaSecret!) });
      for (const refreshToken of [owner.refreshToken, second.refreshToken]) {
        expect((await t.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })).statusCode).toBe(200);
        // The old token again, as a thief holding a copy would: the family is revoked.
        expectProblem(await t.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } }), 401, 'invalid_refresh_token');
      }
      const reuses = (await app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE business_id = $1 AND action = 'auth.refresh.reuse_detected'`, [owner.businessId])).rows[0].n;
      expect(reuses).toBe(2);
      const events = await settle(owner.businessId, 'refresh_token_reused', reuses);
      expect(events).toHaveLength(1);
      expect(events[0].occurrences).toBe(reuses);
      expect(await alertsTo(owner.email, 'sign-in token was used twice')).toBe(1);
    });

    it('raises a new admin, role changes and MFA turned off', async () => {
      const owner = await readyAdmin(t, { businessName: 'Shifting Roles' });
      const promoted = await member(owner, 'billing');
      expect((await call(owner, 'PATCH', `/v1/members/${promoted.userId}`, { role: 'admin' })).statusCode).toBe(200);
      const demoted = await member(owner, 'billing');
      expect((await call(owner, 'PATCH', `/v1/members/${demoted.userId}`, { role: 'viewer' })).statusCode).toBe(200);
      const [added] = await settle(owner.businessId, 'admin_added', 1);
      expect(added.detail).toMatchObject({ userId: promoted.userId, to: 'admin' });
      const [changed] = await settle(owner.businessId, 'role_changed', 1);
      expect(changed.detail).toMatchObject({ userId: demoted.userId, from: 'billing', to: 'viewer' });

      // An admin joining through an invitation is a new admin too (same burst: one event, one alert).
      await member(owner, 'admin');
      const admins = await settle(owner.businessId, 'admin_added', 2);
      expect(admins).toHaveLength(1);
      expect(await alertsTo(owner.email, 'a new admin')).toBe(1);

      const mfaOff = await member(owner, 'billing');
      expect((await call(mfaOff, 'POST', '/v1/auth/mfa/disable', { password: mfaOff.password, code: nextTotp(mfaOff.mfaSecret!) })).statusCode).toBe(204);
      const [disabled] = await settle(owner.businessId, 'mfa_disabled', 1);
      expect(disabled.detail).toMatchObject({ userId: mfaOff.userId });
    });

    it('raises more than 10 invoices voided or deleted within an hour once', async () => {
      const owner = await readyAdmin(t, { businessName: 'Shredder' });
      const customerId = (await call(owner, 'POST', '/v1/customers', { name: 'C' })).json().id;
      for (let i = 0; i < 10; i += 1) {
        const id = (await call(owner, 'POST', '/v1/invoices', { customerId, currency: 'EUR', lines: LINES })).json().id;
        expect((await call(owner, 'DELETE', `/v1/invoices/${id}`)).statusCode).toBe(204);
      }
      await scanner.scanOnce();
      expect(await eventsOf(owner.businessId, 'documents_voided_or_deleted')).toEqual([]);
      for (let i = 0; i < 3; i += 1) {
        const id = (await call(owner, 'POST', '/v1/invoices', { customerId, currency: 'EUR', lines: LINES })).json().id;
        await call(owner, 'POST', `/v1/invoices/${id}/finalize`);
        expect((await call(owner, 'POST', `/v1/invoices/${id}/void`, { reason: 'Mistake' })).statusCode).toBe(200);
      }
      const events = await settle(owner.businessId, 'documents_voided_or_deleted', 13);
      expect(events).toHaveLength(1);
      expect(events[0].occurrences).toBe(13);
      expect(await alertsTo(owner.email, 'many invoices voided or deleted')).toBe(1);
    });

    it('raises a spike of failed payments (failed checkouts in the last hour) once', async () => {
      const owner = await readyAdmin(t, { businessName: 'Declined Cards' });
      const customerId = (await call(owner, 'POST', '/v1/customers', { name: 'C' })).json().id;
      const invoiceId = (await call(owner, 'POST', '/v1/invoices', { customerId, currency: 'EUR', lines: LINES })).json().id;
      await call(owner, 'POST', `/v1/invoices/${invoiceId}/finalize`);
      const fail = (n: number) => app.db.query(
        `INSERT INTO checkout_sessions (business_id, invoice_id, provider, provider_session_id, status, amount, currency, invoice_version, idempotency_key)
         SELECT $1, $2, 'stripe', 'cs_' || md5(random()::text), 'failed', 6000, 'EUR', 1, md5(random()::text) FROM generate_series(1, $3)`,
        [owner.businessId, invoiceId, n],
      );
      await fail(4);
      await scanner.scanFailedPayments();
      expect(await eventsOf(owner.businessId, 'failed_payments_spike')).toEqual([]);
      await fail(2);
      await scanner.scanFailedPayments();
      await scanner.scanFailedPayments();
      await fail(3);
      await scanner.scanFailedPayments();
      const events = await eventsOf(owner.businessId, 'failed_payments_spike');
      expect(events).toHaveLength(1);
      expect(events[0].detail).toMatchObject({ inWindow: 9 });
      expect(await alertsTo(owner.email, 'failed payments')).toBe(1);
    });

    it('raises exports of invoices', async () => {
      const owner = await readyAdmin(t, { businessName: 'Exporter' });
      expect((await call(owner, 'GET', '/v1/invoices/export.csv?from=2026-01-01&to=2026-12-31')).statusCode).toBe(200);
      const [event] = await settle(owner.businessId, 'data_exported', 1);
      expect(event.detail).toMatchObject({ what: 'invoices', by: owner.userId });
    });
  });

  describe('webhook signature failures (counted outside the database)', () => {
    it('writes one security event and one alert when the count in the window passes the threshold, not one per failure', async () => {
      const signals = app.app.get(SecuritySignals);
      const before = (await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM security_events')).rows[0].n;
      // Nine forged deliveries: below the threshold, nothing is written anywhere.
      for (let i = 0; i < 9; i += 1) signals.webhookVerificationFailed('paypal');
      await signals.settled();
      expect((await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM security_events')).rows[0].n).toBe(before);
      // Then a burst: one event, one alert (the platform's: an error log line, as no business is
      // concerned, and one email to each operator address of OPERATOR_ALERT_EMAILS).
      for (let i = 0; i < 40; i += 1) signals.webhookVerificationFailed('paypal');
      await signals.settled();
      const events = await eventsOf(null, 'webhook_verification_failures');
      expect(events.filter((event) => event.detail.provider === 'paypal')).toHaveLength(1);
      expect(app.logs.filter((line) => line.msg === 'security alert (platform)' && line.kind === 'webhook_verification_failures')).toHaveLength(1);
      expect(app.logs.find((line) => line.msg === 'security alert (platform)' && line.kind === 'webhook_verification_failures')).toMatchObject({ recipients: 2 });
      expect(await alertsTo('ops@ledgerline.test', 'webhooks failing signature verification')).toBe(1);
      expect(await alertsTo('oncall@ledgerline.test', 'webhooks failing signature verification')).toBe(1);
      // More failures in the same burst: no second email.
      for (let i = 0; i < 20; i += 1) signals.webhookVerificationFailed('paypal');
      await signals.settled();
      expect(await alertsTo('ops@ledgerline.test', 'webhooks failing signature verification')).toBe(1);
      expect((await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM security_events')).rows[0].n).toBe(before + 1);
    });

    it('counts real refused deliveries (a forged Stripe signature answers 400 and is counted)', async () => {
      const signals = app.app.get(SecuritySignals);
      for (let i = 0; i < 3; i += 1) {
        const response = await app.inject({ method: 'POST', url: '/webhooks/stripe', headers: { 'content-type': 'application/json', 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'ab'.repeat(32)}` }, payload: '{"id":"evt_forged","type":"payment_intent.succeeded"}' });
        expect(response.statusCode).toBe(400);
      }
      expect(signals.webhookFailuresInWindow('stripe')).toBeGreaterThanOrEqual(3);
      expect((await app.db.query(`SELECT count(*)::int AS n FROM webhook_events WHERE event_id = 'evt_forged'`)).rows[0].n).toBe(0);
    });
  });

  describe('GET /v1/security/events', () => {
    it('lists the business’s events newest first with cursor pagination and a kind filter; admin only; never another business’s', async () => {
      const owner = await readyAdmin(t, { businessName: 'Listed Events' });
      for (const kind of ['data_exported', 'customer_erased', 'retention_changed']) {
        await app.db.query(`INSERT INTO security_events (business_id, kind, severity, summary) VALUES ($1, $2, 'info', 'seeded')`, [owner.businessId, kind]);
      }
      const stranger = await readyAdmin(t, { businessName: 'Stranger' });
      await app.db.query(`INSERT INTO security_events (business_id, kind, severity, summary) VALUES ($1, 'data_exported', 'info', 'not yours')`, [stranger.businessId]);

      const seen: Array<{ scope: string; kind: string; summary: string; [key: string]: unknown }> = [];
      let cursor: string | null = null;
      do {
        const response = await call(owner, 'GET', `/v1/security/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(response.statusCode).toBe(200);
        seen.push(...response.json().data);
        cursor = response.json().nextCursor;
      } while (cursor);
      const own = seen.filter((event) => event.scope === 'business');
      expect(own.map((event) => event.kind).sort()).toEqual(['customer_erased', 'data_exported', 'retention_changed']);
      expect(seen.every((event) => event.summary !== 'not yours')).toBe(true);
      // Platform-wide webhook alerts are shown to every business.
      expect(seen.some((event) => event.scope === 'platform' && event.kind === 'webhook_verification_failures')).toBe(true);
      expect(seen[0]).toEqual({
        id: expect.any(String), scope: expect.any(String), kind: expect.any(String), severity: expect.any(String), subject: null, summary: expect.any(String),
        detail: expect.any(Object), occurrences: 1, firstSeenAt: expect.any(String), lastSeenAt: expect.any(String), alertedAt: null,
      });

      const filtered = (await call(owner, 'GET', '/v1/security/events?kind=customer_erased')).json();
      expect(filtered.data.map((event: { kind: string }) => event.kind)).toEqual(['customer_erased']);

      const billing = await member(owner, 'billing');
      const viewer = await member(owner, 'viewer');
      expectProblem(await call(billing, 'GET', '/v1/security/events'), 403, 'role_not_allowed');
      expectProblem(await call(viewer, 'GET', '/v1/security/events'), 403, 'role_not_allowed');
      expectProblem(await call(viewer, 'GET', '/v1/security/posture'), 403, 'role_not_allowed');
      for (const query of ['kind=nope', 'limit=0', 'cursor=zzz', 'other=1']) expectProblem(await call(owner, 'GET', `/v1/security/events?${query}`), 400);
    });
  });

  describe('GET /v1/security/posture', () => {
    it('reports members without MFA, stale sessions and invitations, link settings, webhooks and key ages', async () => {
      const owner = await readyAdmin(t, { businessName: 'Posture Check' });
      const viewer = await member(owner, 'viewer');
      const stale = await mobileLogin(t, { email: viewer.email, password: viewer.password });
      await app.db.query(`UPDATE sessions SET last_used_at = now() - interval '5 days' WHERE id = (SELECT id FROM sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1)`, [viewer.userId]);
      expect(stale.accessToken).toBeTruthy();
      const pending = uniqueEmail('pending');
      expect((await call(owner, 'POST', '/v1/members/invitations', { email: pending, role: 'billing' })).statusCode).toBe(201);
      await app.db.query(`UPDATE invitations SET created_at = now() - interval '5 days' WHERE email = $1`, [pending]);

      const response = await call(owner, 'GET', '/v1/security/posture');
      expect(response.statusCode).toBe(200);
      const posture = response.json();
      expect(posture.members).toEqual({ total: 2, withoutMfa: [{ userId: viewer.userId, name: expect.any(String), email: viewer.email, role: 'viewer' }] });
      expect(posture.sessions.stale.map((session: { userId: string }) => session.userId)).toContain(viewer.userId);
      expect(posture.invitations).toMatchObject({ pending: 1, stale: [expect.objectContaining({ email: pending, role: 'billing', expired: false })] });
      expect(posture.links).toEqual({ ttlDays: 60, maxTtlDays: 60, epoch: 0 });
      expect(posture.webhooks).toEqual(expect.arrayContaining([
        expect.objectContaining({ provider: 'stripe', configured: true, verified: true, lastSeenAt: null, recentlySeen: false }),
        expect.objectContaining({ provider: 'paypal', configured: false }),
      ]));
      // LINK_SIGNING_KEYS' key is named for 2020-01-01: rotation is due. ENCRYPTION_KEYS' was generated today.
      expect(posture.keys.linkSigningKeys).toEqual([expect.objectContaining({ keyId: 'k20200101', current: true, rotationDue: true })]);
      expect(posture.keys.linkSigningKeys[0].ageDays).toBeGreaterThan(90);
      expect(posture.keys.encryptionKeys).toEqual([expect.objectContaining({ current: true, rotationDue: false, ageDays: expect.any(Number) })]);
      expect(posture.keys.rotationDue).toBe(true);
      expect(posture.warnings).toEqual(expect.arrayContaining([expect.stringContaining('older than 90 days'), expect.stringContaining('invitation'), expect.stringContaining('No verified stripe webhook')]));
      expect(JSON.stringify(posture)).not.toContain(OLD_LINK_KEY.split(':')[1]);
    });
  });

  describe('metrics', () => {
    const token = (): string => metricsToken(app.config.jwtSecret);

    it('is never public: no token, a wrong token or a session token answer 401', async () => {
      const owner = await readyAdmin(t, { businessName: 'Metrics Snoop' });
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${token()}x` }, owner.auth, { authorization: `Basic ${Buffer.from(`x:${token()}`).toString('base64')}` }]) {
        const response = await app.inject({ method: 'GET', url: '/metrics', headers });
        expect(response.statusCode).toBe(401);
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(response.body).not.toContain('ledgerline_');
      }
    });

    it('serves Prometheus text: HTTP latency by route pattern, queue depth and failures, webhook failures, emails by state, payments applied', async () => {
      const owner = await readyAdmin(t, { businessName: 'Observed' });
      const customerId = (await call(owner, 'POST', '/v1/customers', { name: 'M' })).json().id;
      await call(owner, 'GET', `/v1/customers/${customerId}`);
      await app.inject({ method: 'GET', url: `/no/such/route/${randomUUID()}` });
      const response = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(token()) });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = response.body;
      expect(text).toMatch(/^# HELP ledgerline_http_request_duration_seconds /m);
      expect(text).toMatch(/^# TYPE ledgerline_http_request_duration_seconds histogram$/m);
      expect(text).toMatch(/^ledgerline_http_request_duration_seconds_bucket\{method="GET",route="\/v1\/customers\/:id",status="2xx",le="0\.005"\} \d+$/m);
      expect(text).toMatch(/^ledgerline_http_request_duration_seconds_count\{method="POST",route="\/v1\/customers",status="2xx"\} \d+$/m);
      expect(text).toMatch(/route="unmatched",status="4xx"/);
      expect(text).toMatch(/^ledgerline_queue_jobs\{queue="email",state="failed"\} \d+$/m);
      expect(text).toMatch(/^ledgerline_queue_jobs\{queue="webhooks",state="waiting"\} \d+$/m);
      // 9 + 40 + 20 counted by the burst test above.
      expect(text).toMatch(/^ledgerline_webhook_verification_failures_total\{provider="paypal"\} 69$/m);
      expect(text).toMatch(/^ledgerline_webhook_verification_failures_total\{provider="stripe"\} \d+$/m);
      expect(text).toMatch(/^ledgerline_emails\{status="captured"\} \d+$/m);
      expect(text).toMatch(/^ledgerline_payments_applied \d+$/m);
      expect(text).toMatch(/^ledgerline_security_events\{kind="failed_logins_account",severity="warning"\} \d+$/m);
      // No raw id or token ever becomes a label.
      expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}/);
      // Every sample line is well formed.
      for (const line of text.trimEnd().split('\n')) {
        expect(line).toMatch(/^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? [-+0-9.eEInfa]+)$/);
      }
    });
  });
});
