import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { AuditService } from '../src/audit/audit.service.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { enrollMfa, fromFreshIps, inviteAndAccept, mobileLogin, nextTotp, readyAdmin, signup, strongPassword, uniqueEmail, waitFor, wrongTotp, type TestAccount } from './harness/identity.js';
import { pdfText } from './support/pdf-text.js';

type Response = Awaited<ReturnType<TestApp['inject']>>;

const LINES = [{ description: 'Boiler service', quantity: 1, unitPrice: 12_500, taxRateBps: 2100 }];

/**
 * A customer's data rights end to end: the export of everything held about them, and erasure
 * (reason, password and TOTP, once), after which no erased value is left in API answers, the
 * database, the logs or the audit trail, while invoice numbers, amounts and dates remain.
 */
describe('customer data rights', () => {
  let app: TestApp;
  let t: TestApp;
  let admin: TestAccount;
  let billing: TestAccount;
  let other: TestAccount;

  beforeAll(async () => {
    app = await startTestApp();
    app.db.on('error', () => undefined);
    t = fromFreshIps(app);
    admin = await readyAdmin(t, { businessName: 'Rights Plumbing' });
    other = await readyAdmin(t, { businessName: 'Other Roofing' });
    const invitee = { email: uniqueEmail('billing'), password: strongPassword() };
    const joined = await inviteAndAccept(t, admin, invitee, 'billing');
    const session = await mobileLogin(t, invitee);
    billing = await enrollMfa(t, { ...invitee, userId: joined.userId, businessId: joined.businessId, accessToken: session.accessToken, refreshToken: session.refreshToken, auth: session.auth });
  });
  afterAll(async () => {
    await app?.close();
  });

  const expectProblem = (response: Response, status: number, code?: string): void => {
    expect({ status: response.statusCode, body: response.json() }).toEqual({ status, body: expect.objectContaining(code ? { code } : {}) });
    expect(response.headers['content-type']).toContain('application/problem+json');
  };
  const request = (account: TestAccount, method: 'GET' | 'POST', url: string, payload?: object, extra: Record<string, string> = {}): Promise<Response> =>
    t.inject({ method, url, headers: { ...account.auth, ...extra }, ...(payload ? { payload } : {}) });

  interface Seeded {
    id: string;
    values: Record<string, string>;
    invoiceId: string;
    invoiceNumber: string;
    estimateId: string;
  }

  /** A customer with every identifying field, an invoice sent to them, an accepted estimate and a link open. */
  async function seedCustomer(account: TestAccount): Promise<Seeded> {
    const tag = randomBytes(4).toString('hex');
    const values = {
      name: `Carla Zed${tag}`,
      email: `carla.${tag}@customer.example`,
      phone: `+31 20 ${String(parseInt(tag, 16) % 10_000_000).padStart(7, '7')}`,
      line1: `${tag} Canal Street 7`,
      city: `Townof${tag}`,
      postalCode: `PC-${tag}`,
      notes: `Prefers mornings ${tag}`,
      taxId: `NL${tag}B01`,
      // Last octet never 0: request logs keep only the /24 network (198.51.x.0/24), which must not contain the address.
      ip: `198.51.${parseInt(tag.slice(0, 2), 16)}.${(parseInt(tag.slice(2, 4), 16) % 254) + 1}`,
      userAgent: `CarlaPhone/${tag}`,
    };
    const created = await request(account, 'POST', '/v1/customers', {
      name: values.name, email: values.email, phone: values.phone, notes: values.notes, taxId: values.taxId,
      billingAddress: { line1: values.line1, city: values.city, postalCode: values.postalCode, country: 'NL' },
    }, { 'idempotency-key': `create-${tag}` });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    const invoice = await request(account, 'POST', '/v1/invoices', { customerId: id, currency: 'EUR', lines: LINES });
    expect(invoice.statusCode).toBe(201);
    const invoiceId = invoice.json().id as string;
    expect((await request(account, 'POST', `/v1/invoices/${invoiceId}/finalize`)).statusCode).toBe(200);
    const sent = await request(account, 'POST', `/v1/invoices/${invoiceId}/send`);
    expect(sent.statusCode).toBe(200);
    const estimate = await request(account, 'POST', '/v1/estimates', { customerId: id, currency: 'EUR', lines: LINES });
    expect(estimate.statusCode).toBe(201);
    const estimateId = estimate.json().id as string;
    expect((await request(account, 'POST', `/v1/estimates/${estimateId}/send`)).statusCode).toBe(200);
    // The customer, from their phone: opens the invoice and its PDF through the signed link, and
    // accepts the estimate on its page (link opens, estimate acceptance and audit events hold their IP and browser).
    const visitor = { remoteAddress: values.ip, headers: { 'user-agent': values.userAgent } };
    const payLink = await sharedPath(account, 'invoices', invoiceId);
    expect((await app.inject({ method: 'GET', url: payLink, ...visitor })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: payLink.replace('?', '/pdf?'), ...visitor })).statusCode).toBe(200);
    const estimateLink = await sharedPath(account, 'estimates', estimateId);
    expect((await app.inject({ method: 'GET', url: estimateLink, ...visitor })).statusCode).toBe(200);
    const accepted = await app.inject({
      method: 'POST', url: estimateLink, remoteAddress: values.ip, payload: 'action=accept',
      headers: { 'user-agent': values.userAgent, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    });
    expect(accepted.statusCode).toBe(303);
    return { id, values, invoiceId, invoiceNumber: sent.json().number, estimateId };
  }

  async function sharedPath(account: TestAccount, kind: 'invoices' | 'estimates', id: string): Promise<string> {
    const shared = await request(account, 'POST', `/v1/${kind}/${id}/link`);
    expect(shared.statusCode).toBe(200);
    const url = new URL(shared.json().url as string);
    return `${url.pathname}${url.search}`;
  }

  /** The business's audit events of the customer's own actions, as the audit API shows them (inbox folded first). */
  async function customerEvents(account: TestAccount, customerId: string): Promise<Array<{ action: string; ip: string | null; userAgent: string | null; personalDataErased: boolean }>> {
    expect((await request(account, 'GET', '/v1/audit-events/verify')).statusCode).toBe(200);
    const page = await request(account, 'GET', `/v1/audit-events?actorType=customer&actorId=${customerId}&limit=200`);
    expect(page.statusCode).toBe(200);
    return page.json().data;
  }

  describe('export', () => {
    it('exports everything held about the customer as one JSON document (admin only)', async () => {
      const seeded = await seedCustomer(admin);
      const response = await request(admin, 'GET', `/v1/customers/${seeded.id}/export`);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-disposition']).toBe(`attachment; filename="customer-${seeded.id}.json"`);
      const body = response.json();
      expect(body.format).toBe('ledgerline-customer-export.v1');
      expect(body.customer).toMatchObject({ id: seeded.id, name: seeded.values.name, email: seeded.values.email, phone: seeded.values.phone, notes: seeded.values.notes, taxId: seeded.values.taxId });
      expect(body.customer).not.toHaveProperty('taxIdEncrypted');
      expect(body.invoices).toHaveLength(1);
      expect(body.invoices[0]).toMatchObject({ id: seeded.invoiceId, number: seeded.invoiceNumber, lines: [expect.objectContaining({ description: 'Boiler service' })] });
      expect(body.estimates).toEqual([expect.objectContaining({ id: seeded.estimateId, status: 'accepted', acceptedIp: seeded.values.ip, lines: [expect.objectContaining({ description: 'Boiler service' })] })]);
      expect(body.emailsSent.map((email: { template: string }) => email.template).sort()).toEqual(['estimate', 'invoice']);
      expect(body.emailsSent[0].toAddress).toBe(seeded.values.email);
      expect(body.linkOpens).toEqual(expect.arrayContaining([
        expect.objectContaining({ documentType: 'invoice', documentId: seeded.invoiceId, ip: seeded.values.ip, userAgent: seeded.values.userAgent }),
        expect.objectContaining({ documentType: 'estimate', documentId: seeded.estimateId, ip: seeded.values.ip, userAgent: seeded.values.userAgent }),
      ]));
      expect(body.linkOpens).toHaveLength(2);
      expect(body.auditEvents.map((event: { action: string }) => event.action)).toEqual(expect.arrayContaining(['customer.created', 'invoice.created', 'invoice.sent', 'estimate.accepted']));
      // The customer's own actions with where they came from; a member's actions without the member's IP.
      expect(body.auditEvents.find((event: { action: string }) => event.action === 'invoice.link_opened')).toMatchObject({ actorType: 'customer', actorId: seeded.id, ip: seeded.values.ip, userAgent: seeded.values.userAgent });
      expect(body.auditEvents.find((event: { action: string }) => event.action === 'invoice.sent')).not.toHaveProperty('ip');
      expect(body.erasure).toBeNull();
      expect('payments' in body).toBe(true);

      const { rows } = await app.db.query(`SELECT actor_id FROM audit_events WHERE business_id = $1 AND action = 'customer.exported' AND entity_id = $2`, [admin.businessId, seeded.id]);
      expect(rows).toEqual([{ actor_id: admin.userId }]);
      await waitFor(async () => (await app.db.query(`SELECT 1 FROM security_events WHERE business_id = $1 AND kind = 'data_exported'`, [admin.businessId])).rowCount, { what: 'data_exported security event' });
    });

    it('answers 404 for another business’s customer or an unknown id, 400 for a malformed id, 403 for billing', async () => {
      const seeded = await seedCustomer(other);
      expectProblem(await request(admin, 'GET', `/v1/customers/${seeded.id}/export`), 404, 'customer_not_found');
      expectProblem(await request(admin, 'GET', `/v1/customers/${randomUUID()}/export`), 404, 'customer_not_found');
      expectProblem(await request(admin, 'GET', '/v1/customers/not-a-uuid/export'), 400);
      expectProblem(await request(billing, 'GET', `/v1/customers/${seeded.id}/export`), 403, 'role_not_allowed');
    });
  });

  describe('erasure', () => {
    const erase = (account: TestAccount, id: string, body: Record<string, unknown>): Promise<Response> => request(account, 'POST', `/v1/customers/${id}/erase`, body);

    it('refuses without a reason, a password or a code (400), for billing (403), and for a foreign customer (404)', async () => {
      const mine = await seedCustomer(admin);
      const foreign = await seedCustomer(other);
      expectProblem(await erase(admin, mine.id, { password: admin.password, code: '123456' }), 400);
      expectProblem(await erase(admin, mine.id, { reason: 'asked', code: '123456' }), 400);
      expectProblem(await erase(admin, mine.id, { reason: 'asked', password: admin.password }), 400);
      expectProblem(await erase(admin, mine.id, { reason: '   ', password: admin.password, code: '123456' }), 400);
      expectProblem(await erase(admin, mine.id, { reason: 'asked', password: admin.password, code: '123456', extra: true }), 400);
      expectProblem(await erase(billing, mine.id, { reason: 'asked', password: billing.password, code: nextTotp(billing.mfaSecret!) }), 403, 'role_not_allowed');
      expectProblem(await erase(admin, foreign.id, { reason: 'asked', password: admin.password, code: '123456' }), 404, 'customer_not_found');
      expectProblem(await erase(admin, randomUUID(), { reason: 'asked', password: admin.password, code: '123456' }), 404, 'customer_not_found');
      const { rows } = await app.db.query('SELECT name FROM customers WHERE id = ANY($1)', [[mine.id, foreign.id]]);
      expect(rows.map((row) => row.name).sort()).toEqual([mine.values.name, foreign.values.name].sort());
    });

    it('needs the right password and a fresh TOTP code (401 otherwise, audited, nothing erased); a code works once', async () => {
      const owner = await readyAdmin(t, { businessName: 'Reauth Shop' });
      const seeded = await seedCustomer(owner);
      const spare = await seedCustomer(owner);
      const code = nextTotp(owner.mfaSecret!);
      // A wrong password does not spend the (right) code.
      expectProblem(await erase(owner, seeded.id, { reason: 'asked', password: `${owner.password}x`, code }), 401, 'reauthentication_failed');
      expectProblem(await erase(owner, seeded.id, { reason: 'asked', password: owner.password, code: wrongTotp(owner.mfaSecret!) }), 401, 'reauthentication_failed');
      const { rows } = await app.db.query('SELECT name, email FROM customers WHERE id = $1', [seeded.id]);
      expect(rows[0]).toEqual({ name: seeded.values.name, email: seeded.values.email });
      const failures = await app.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE business_id = $1 AND action = 'auth.reauthentication.failed'`, [owner.businessId]);
      expect(failures.rows[0].n).toBe(2);
      expect((await erase(owner, seeded.id, { reason: 'asked', password: owner.password, code })).statusCode).toBe(200);
      // Replay of the same code for another erasure: refused.
      expectProblem(await erase(owner, spare.id, { reason: 'asked', password: owner.password, code }), 401, 'reauthentication_failed');
      expect((await app.db.query('SELECT name FROM customers WHERE id = $1', [spare.id])).rows[0].name).toBe(spare.values.name);
      await waitFor(async () => (await app.db.query(`SELECT 1 FROM security_events WHERE business_id = $1 AND kind = 'reauthentication_failed'`, [owner.businessId])).rowCount, { what: 'reauthentication_failed event' });
    });

    it('refuses for a member without two-factor authentication (403)', async () => {
      const plain = await signup(t, { businessName: 'No MFA Shop' });
      await app.db.query('UPDATE businesses SET require_mfa = false WHERE id = $1', [plain.businessId]);
      const created = await request(plain, 'POST', '/v1/customers', { name: 'Someone' });
      expectProblem(await erase(plain, created.json().id, { reason: 'asked', password: plain.password, code: '123456' }), 403, 'mfa_required_for_action');
    });

    it('erases every identifying value everywhere, keeps the invoice record, and refuses a second erasure with 409', async () => {
      // Each successful re-authentication spends the member's next code: one erasure per admin here.
      const seeded = await seedCustomer(admin);
      const { values } = seeded;
      // Before: the audit trail shows where the customer acted from (opened from the sealed form) ...
      const before = await customerEvents(admin, seeded.id);
      expect(before.map((event) => event.action).sort()).toEqual(['estimate.accepted', 'estimate.link_opened', 'invoice.link_opened', 'invoice.link_pdf_downloaded']);
      expect(before.every((event) => event.ip === values.ip && event.userAgent === values.userAgent && !event.personalDataErased)).toBe(true);
      const recurring = await request(admin, 'POST', '/v1/recurring-invoices', { customerId: seeded.id, currency: 'EUR', lines: LINES, schedule: { every: 1, unit: 'month', startDate: '2028-01-31' } });
      expect(recurring.statusCode).toBe(201);
      const code = nextTotp(admin.mfaSecret!);
      const response = await erase(admin, seeded.id, { reason: `Deletion request by ${values.name} <${values.email}> on the phone ${values.phone}`, password: admin.password, code });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        customerId: seeded.id,
        erasedAt: expect.any(String),
        summary: expect.objectContaining({
          invoices: 1, estimates: 1, estimatesScrubbed: 1, linkOpensScrubbed: 2, auditKeysDestroyed: 1, emailsScrubbed: 2, idempotencyRecordsRemoved: 1, recurringInvoicesPaused: 1,
          tablesTouched: expect.arrayContaining(['customers', 'customer_pii_keys', 'estimates', 'document_opens', 'emails', 'idempotency_keys', 'recurring_invoices']),
        }),
      });

      // Twice: 409, whatever the credentials (and the used code is not accepted again anyway).
      expectProblem(await erase(admin, seeded.id, { reason: 'again', password: admin.password, code }), 409, 'customer_already_erased');
      expectProblem(await erase(admin, seeded.id, { reason: 'again', password: admin.password, code: nextTotp(admin.mfaSecret!) }), 409, 'customer_already_erased');

      // The erased customer cannot be edited back into existence (409, nothing changed), and their recurring invoice stopped.
      const edit = await t.inject({ method: 'PATCH', url: `/v1/customers/${seeded.id}`, headers: admin.auth, payload: { name: 'Carla Again', email: 'carla.again@customer.example' } });
      expectProblem(edit, 409, 'customer_erased');
      expect((await request(admin, 'GET', `/v1/recurring-invoices/${recurring.json().id}`)).json()).toMatchObject({ status: 'paused' });

      // The documents remain, with their numbers and amounts, and show "Erased customer".
      const customer = await request(admin, 'GET', `/v1/customers/${seeded.id}`);
      expect(customer.json()).toMatchObject({ id: seeded.id, name: 'Erased customer', email: null, phone: null, billingAddress: null, notes: null, taxId: null });
      const invoice = await request(admin, 'GET', `/v1/invoices/${seeded.invoiceId}`);
      expect(invoice.json()).toMatchObject({ id: seeded.invoiceId, number: seeded.invoiceNumber, total: 15_125, customerId: seeded.id });
      const pdf = await t.inject({ method: 'GET', url: `/v1/invoices/${seeded.invoiceId}/pdf`, headers: admin.auth });
      expect(pdf.statusCode).toBe(200);
      const pdfContent = (await pdfText(new Uint8Array(pdf.rawPayload))).join('\n');
      expect(pdfContent).toContain('Erased customer');
      expect(pdfContent).toContain(seeded.invoiceNumber);

      // The audit trail keeps the erasure event, with the reason scrubbed, and still verifies.
      const { rows: events } = await app.db.query(`SELECT actor_id, detail FROM audit_events WHERE business_id = $1 AND action = 'customer.erased' AND entity_id = $2`, [admin.businessId, seeded.id]);
      expect(events).toHaveLength(1);
      expect(events[0].actor_id).toBe(admin.userId);
      expect(events[0].detail.reason).toBe('Deletion request by [erased] <[erased]> on the phone [erased]');
      expect((await request(admin, 'GET', '/v1/audit-events/verify')).json()).toMatchObject({ valid: true });
      // ... after: the same events, still in the chain (which still verifies), without IP or browser.
      const after = await customerEvents(admin, seeded.id);
      expect(after.map((event) => event.action).sort()).toEqual(before.map((event) => event.action).sort());
      expect(after.every((event) => event.ip === null && event.userAgent === null && event.personalDataErased)).toBe(true);
      await waitFor(async () => (await app.db.query(`SELECT 1 FROM security_events WHERE business_id = $1 AND kind = 'customer_erased'`, [admin.businessId])).rowCount, { what: 'customer_erased event' });

      // Nowhere: API answers (customer, list, export, audit list, invoice), every table of the database, the logs.
      const answers = [
        customer.body,
        invoice.body,
        (await request(admin, 'GET', '/v1/customers?limit=200')).body,
        (await request(admin, 'GET', `/v1/customers/${seeded.id}/export`)).body,
        (await request(admin, 'GET', '/v1/audit-events?limit=200')).body,
        (await request(admin, 'GET', '/v1/audit-events/export')).body,
        (await request(admin, 'GET', `/v1/estimates/${seeded.estimateId}`)).body,
        pdfContent,
      ].join('\n');
      const database = await dumpDatabase();
      const logs = app.rawLogs();
      // With Redis (the production footprint), its keys too: rate-limit counters are keyed by client IP.
      const redisKeys = await redisKeysContaining(values.ip);
      for (const [field, value] of Object.entries(values)) {
        expect({ field, inApi: answers.includes(value) }).toEqual({ field, inApi: false });
        expect({ field, inDatabase: database.filter((row) => row.text.includes(value)).map((row) => row.table) }).toEqual({ field, inDatabase: [] });
        expect({ field, inLogs: logs.includes(value) }).toEqual({ field, inLogs: false });
      }
      expect(redisKeys).toEqual([]);
      // The export after erasure says it was erased, by whom, and why (scrubbed).
      const exported = (await request(admin, 'GET', `/v1/customers/${seeded.id}/export`)).json();
      expect(exported.erasure).toMatchObject({ erasedBy: admin.userId, reason: 'Deletion request by [erased] <[erased]> on the phone [erased]' });
      expect(exported.linkOpens).toEqual([expect.objectContaining({ ip: null, userAgent: null }), expect.objectContaining({ ip: null, userAgent: null })]);

      // The erased customer opens their link again: the open counts, but nothing identifying is recorded.
      const payLink = await sharedPath(admin, 'invoices', seeded.invoiceId);
      expect((await app.inject({ method: 'GET', url: payLink, remoteAddress: values.ip, headers: { 'user-agent': values.userAgent } })).statusCode).toBe(200);
      const later = await customerEvents(admin, seeded.id);
      expect(later.filter((event) => event.action === 'invoice.link_opened')).toHaveLength(2);
      expect(later.every((event) => event.ip === null && event.userAgent === null)).toBe(true);
      const { rows: opens } = await app.db.query('SELECT ip, user_agent FROM document_opens WHERE document_id = $1', [seeded.invoiceId]);
      // (the open from before the erasure, scrubbed, and the new one)
      expect(opens).toEqual([{ ip: null, user_agent: null }, { ip: null, user_agent: null }]);
      const { rows: keys } = await app.db.query('SELECT 1 FROM customer_pii_keys WHERE customer_id = $1', [seeded.id]);
      expect(keys).toEqual([]);
    });

    it('leaves other customers untouched', async () => {
      const owner = await readyAdmin(t, { businessName: 'Two Customers' });
      const keep = await seedCustomer(owner);
      const gone = await seedCustomer(owner);
      expect((await erase(owner, gone.id, { reason: 'asked', password: owner.password, code: nextTotp(owner.mfaSecret!) })).statusCode).toBe(200);
      const kept = (await request(owner, 'GET', `/v1/customers/${keep.id}/export`)).json();
      expect(kept.customer).toMatchObject({ name: keep.values.name, email: keep.values.email, taxId: keep.values.taxId });
      expect(kept.linkOpens).toEqual([expect.objectContaining({ ip: keep.values.ip }), expect.objectContaining({ ip: keep.values.ip })]);
      // Only the erased customer's audit key went: the other one's IPs are still readable in the trail.
      expect((await customerEvents(owner, keep.id)).every((event) => event.ip === keep.values.ip)).toBe(true);
      expect((await customerEvents(owner, gone.id)).every((event) => event.ip === null && event.personalDataErased)).toBe(true);
      expect(kept.emailsSent.every((email: { toAddress: string }) => email.toAddress === keep.values.email)).toBe(true);
    });

    it('keeps no IP of a visit recorded while the customer is being erased (a key made meanwhile is undone)', async () => {
      const created = await request(admin, 'POST', '/v1/customers', { name: 'Racing Visitor' });
      const customerId = created.json().id as string;
      // What the erasure's transaction holds: the customer row locked, the erasure written, not yet committed.
      const erasure = await app.db.connect();
      try {
        await erasure.query('BEGIN');
        await erasure.query('SELECT 1 FROM customers WHERE id = $1 FOR UPDATE', [customerId]);
        await erasure.query(`INSERT INTO customer_erasures (business_id, customer_id, erased_by, reason) VALUES ($1, $2, $3, 'race')`, [admin.businessId, customerId, admin.userId]);
        // The visit: its key lookup sees no erasure yet, and its key insert waits for the customer row.
        const visit = app.app.get(AuditService).recordSoon({ businessId: admin.businessId, actor: { type: 'customer', id: customerId }, action: 'invoice.link_opened', ip: '203.0.113.99', userAgent: 'RacingPhone/1' });
        await waitFor(async () => (await app.db.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO customer_pii_keys%'`)).rowCount, { what: 'the key insert waiting for the customer row' });
        await erasure.query('COMMIT');
        await visit;
      } finally {
        erasure.release();
      }
      expect((await app.db.query('SELECT 1 FROM customer_pii_keys WHERE customer_id = $1', [customerId])).rows).toEqual([]);
      const events = await customerEvents(admin, customerId);
      expect(events).toEqual([expect.objectContaining({ action: 'invoice.link_opened', ip: null, userAgent: null })]);
      expect((await dumpDatabase()).filter((row) => row.text.includes('203.0.113.99') || row.text.includes('RacingPhone')).map((row) => row.table)).toEqual([]);
    });

    it('lets only one of two concurrent erasures through', async () => {
      const owner = await readyAdmin(t, { businessName: 'Race Shop' });
      const seeded = await seedCustomer(owner);
      // Two admins of the same business, each with their own fresh code.
      const second = { email: uniqueEmail('admin2'), password: strongPassword() };
      const joined = await inviteAndAccept(t, owner, second, 'admin');
      const session = await mobileLogin(t, second);
      const admin2 = await enrollMfa(t, { ...second, userId: joined.userId, businessId: joined.businessId, accessToken: session.accessToken, refreshToken: session.refreshToken, auth: session.auth });
      const [a, b] = await Promise.all([
        erase(owner, seeded.id, { reason: 'asked', password: owner.password, code: nextTotp(owner.mfaSecret!) }),
        erase(admin2, seeded.id, { reason: 'asked', password: admin2.password, code: nextTotp(admin2.mfaSecret!) }),
      ]);
      expect([a.statusCode, b.statusCode].sort()).toEqual([200, 409]);
      const { rows } = await app.db.query('SELECT count(*)::int AS n FROM customer_erasures WHERE customer_id = $1', [seeded.id]);
      expect(rows[0].n).toBe(1);
    });
  });

  /** Keys of the shared Redis (every suite's) that contain `text`; none without Redis. */
  async function redisKeysContaining(text: string): Promise<string[]> {
    if (!process.env.REDIS_URL) return [];
    const redis = new Redis(process.env.REDIS_URL);
    try {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `*${text}*`, 'COUNT', 1000);
        found.push(...keys);
        cursor = next;
      } while (cursor !== '0');
      return found;
    } finally {
      redis.disconnect();
    }
  }

  /** Every row of every table of the suite's database, as text. */
  async function dumpDatabase(): Promise<Array<{ table: string; text: string }>> {
    const { rows: tables } = await app.db.query<{ schema: string; name: string }>(
      `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
        WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`,
    );
    const out: Array<{ table: string; text: string }> = [];
    for (const table of tables) {
      const { rows } = await app.db.query<{ text: string }>(`SELECT t::text AS text FROM "${table.schema}"."${table.name}" t`);
      for (const row of rows) out.push({ table: `${table.schema}.${table.name}`, text: row.text });
    }
    return out;
  }
});
