import { DataSource } from 'typeorm';
import { dayNumber, signLink, type LinkKind } from '../src/links/link-signing.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { fromFreshIps, freshIp, inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, waitFor, type TestAccount } from './harness/identity.js';
import { createInvoice, get, invoiceBody, post, seedCustomer } from './harness/invoicing.js';
import { pdfText } from './support/pdf-text.js';

/**
 * Signed pay and estimate links through the real app: making and revoking them, what a
 * tampered, revoked, expired or foreign link gets (401, and nothing read before the signature),
 * key rotation, the pages' headers and data, the JSON variant, opens, fresh links by email,
 * the rate limits, CSRF on the public POSTs, and the customer's answer to an estimate.
 * (test/browser/pages.e2e-spec.ts opens the same pages in Chromium.)
 */
const OLD_KEY = { id: 'k1', secret: 'old-link-key-0123456789abcdef0123456789abcdef' };
const NEW_KEY = { id: 'k2', secret: 'new-link-key-0123456789abcdef0123456789abcdef' };
const ROGUE_KEY = { id: 'k9', secret: 'not-configured-0123456789abcdef0123456789abc' };
const TOTAL = '87.04 EUR'; // SIMPLE_LINES: 79.98 − 5.00 + 12.06 tax

type Response = Awaited<ReturnType<TestApp['inject']>>;

describe('signed links and public pages', () => {
  let raw: TestApp;
  let t: TestApp; // every request from a fresh IP, so ordinary traffic spends no per-IP budget
  let admin: TestAccount;
  let customerId: string;

  beforeAll(async () => {
    raw = await startTestApp({ env: { LINK_SIGNING_KEYS: `${NEW_KEY.id}:${NEW_KEY.secret},${OLD_KEY.id}:${OLD_KEY.secret}` } });
    t = fromFreshIps(raw);
    admin = await readyAdmin(t, { businessName: 'Ace Plumbing' });
    customerId = await seedCustomer(t, admin.businessId, { name: 'Carla Customer', email: 'carla@example.test' });
    await t.db.query(`UPDATE customers SET notes = 'INTERNAL-NOTE-CANARY', phone = '+44 7700 900123' WHERE id = $1`, [customerId]);
  });
  afterAll(async () => {
    await raw?.close();
  });

  async function finalizedInvoice(overrides: Record<string, unknown> = {}): Promise<string> {
    const invoice = await createInvoice(t, admin, invoiceBody(customerId, { notes: 'Thanks for your business', ...overrides }));
    const finalize = await post(t, admin, `/v1/invoices/${invoice.id}/finalize`);
    expect(finalize.statusCode).toBe(200);
    return invoice.id;
  }

  async function shareLink(id: string, kind: 'invoices' | 'estimates' = 'invoices'): Promise<{ url: string; expiresAt: string; path: string }> {
    const response = await post(t, admin, `/v1/${kind}/${id}/link`);
    expect(response.statusCode).toBe(200);
    const body = response.json() as { url: string; expiresAt: string };
    const url = new URL(body.url);
    return { ...body, path: `${url.pathname}${url.search}` };
  }

  function signedPath(kind: LinkKind, id: string, options: { epoch?: number; day?: number; key?: { secret: string } } = {}): string {
    const claims = { kind, documentId: id, linkEpoch: options.epoch ?? 0, day: options.day ?? dayNumber() };
    return `/${kind}/${id}?t=${signLink(claims, options.key?.secret ?? NEW_KEY.secret)}&d=${claims.day}&e=${claims.linkEpoch}`;
  }

  const open = (path: string, headers: Record<string, string> = {}): Promise<Response> => t.inject({ method: 'GET', url: path, headers: { 'user-agent': 'LinkTest/1.0', ...headers } });
  const openJson = (path: string): Promise<Response> => open(path, { accept: 'application/json' });
  const form = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> =>
    t.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'LinkTest/1.0', ...headers }, payload: new URLSearchParams(fields).toString() });

  function expectInvalidPage(response: Response): void {
    expect(response.statusCode).toBe(401);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.body).toContain('This link is not valid');
    expect(response.body).not.toContain('Ace Plumbing');
    expect(response.headers['cache-control']).toBe('no-store');
  }

  describe('making links', () => {
    it('returns { url, expiresAt } for a finalised invoice: /pay/<id>?t=<24 chars>&d=<today>&e=<epoch>, 60 days, audited', async () => {
      const id = await finalizedInvoice();
      const link = await shareLink(id);
      const url = new URL(link.url);
      expect(url.origin).toBe(raw.config.baseUrl);
      expect(url.pathname).toBe(`/pay/${id}`);
      expect(url.searchParams.get('t')).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(url.searchParams.get('d')).toBe(String(dayNumber()));
      expect(url.searchParams.get('e')).toBe('0');
      expect(link.expiresAt).toBe(new Date((dayNumber() + 61) * 86_400_000).toISOString());
      const { rows } = await t.db.query(`SELECT actor_type, detail FROM audit_events WHERE entity_id = $1 AND action = 'invoice.link_created'`, [id]);
      expect(rows).toEqual([{ actor_type: 'user', detail: { expiresAt: link.expiresAt, linkEpoch: 0 } }]);
      expect(JSON.stringify(rows)).not.toContain(url.searchParams.get('t'));
    });

    it('refuses a draft (409 invoice_not_finalized), a foreign id (404) and a viewer (403)', async () => {
      const draft = await createInvoice(t, admin, invoiceBody(customerId));
      const refused = await post(t, admin, `/v1/invoices/${draft.id}/link`);
      expect(refused.statusCode).toBe(409);
      expect(refused.json().code).toBe('invoice_not_finalized');

      const other = await readyAdmin(t, { businessName: 'Other Co' });
      expect((await post(t, other, `/v1/invoices/${await finalizedInvoice()}/link`)).statusCode).toBe(404);
      expect((await get(t, other, `/v1/invoices/${await finalizedInvoice()}/opens`)).statusCode).toBe(404);
      const estimate = await sentEstimate();
      expect((await post(t, other, `/v1/estimates/${estimate}/link`)).statusCode).toBe(404);
      expect((await get(t, other, `/v1/estimates/${estimate}/opens`)).statusCode).toBe(404);

      const viewer = { email: uniqueEmail('viewer'), password: strongPassword() };
      await inviteAndAccept(t, admin, viewer, 'viewer');
      const session = await mobileLogin(t, viewer, { businessId: admin.businessId });
      expect((await post(t, session, `/v1/invoices/${await finalizedInvoice()}/link`)).statusCode).toBe(403);
      expect((await post(t, session, '/v1/settings/links/revoke-all')).statusCode).toBe(403);
    });
  });

  describe('the pay page', () => {
    let id: string;
    let link: { path: string; url: string };
    beforeAll(async () => {
      id = await finalizedInvoice();
      link = await shareLink(id);
    });

    it('shows the invoice, with no-store, no-referrer, noindex and a strict CSP', async () => {
      const response = await open(link.path);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['x-robots-tag']).toContain('noindex');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers.vary).toBe('Accept');
      const csp = String(response.headers['content-security-policy']);
      expect(csp).toMatch(/^default-src 'none';/);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("form-action 'self'");
      expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/]+=*'/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|script-src/);
      const html = response.body;
      for (const expected of ['Ace Plumbing', 'Carla Customer', 'Boiler service', '1 November 2026', '30 November 2026', TOTAL, 'Balance due', 'Thanks for your business', 'Download PDF']) {
        expect(html).toContain(expected);
      }
      expect(html).toMatch(/Invoice INV-\d{4}-\d{4}/);
      expect(html).not.toMatch(/<script/i);
      // Payment providers are not configured here: no pay buttons.
      expect(html).not.toMatch(/Pay by card|Pay with PayPal/);
      // No more customer data than the page needs.
      expect(html).not.toMatch(/carla@example\.test|INTERNAL-NOTE-CANARY|7700 900123/);
    });

    it('answers Accept: application/json with the same view and no internal fields', async () => {
      const response = await openJson(link.path);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('application/json');
      expect(response.headers['cache-control']).toBe('no-store');
      const view = response.json();
      expect(Object.keys(view).sort()).toEqual([
        'amountPaid', 'balanceDue', 'business', 'creditedTotal', 'currency', 'customer', 'discountTotal', 'dueDate', 'id', 'issueDate', 'kind', 'lines', 'links', 'notes',
        'number', 'paidAt', 'payment', 'paymentInstructions', 'status', 'subtotal', 'taxTotal', 'taxes', 'terms', 'total',
      ]);
      const internal = (await get(t, admin, `/v1/invoices/${id}`)).json();
      expect(view).toMatchObject({ kind: 'invoice', id, number: internal.number, status: internal.displayStatus, currency: 'EUR', total: 8704, taxTotal: 1206, amountPaid: 0, balanceDue: 8704, customer: { name: 'Carla Customer' }, business: { name: 'Ace Plumbing' }, payment: { card: false, paypal: false } });
      expect(Object.keys(view.customer)).toEqual(['name']);
      expect(Object.keys(view.lines[0]).sort()).toEqual(['description', 'discount', 'quantity', 'tax', 'taxRateBps', 'total', 'unitPrice']);
      expect(view.taxes).toEqual([{ rateBps: 825, amount: 206 }, { rateBps: 2000, amount: 1000 }]);
      expect(view.links.pdf).toBe(`${raw.config.baseUrl}${link.path.replace('?', '/pdf?')}`);
      expect(JSON.stringify(view)).not.toMatch(/carla@example|INTERNAL-NOTE|customerId|version|sendCount|voidReason/);
    });

    it('serves the PDF behind the same signature, as an attachment that is never cached', async () => {
      const response = await open(link.path.replace('?', '/pdf?'));
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/pdf');
      expect(response.headers['content-disposition']).toMatch(/^attachment; filename="INV-\d{4}-\d{4}\.pdf"$/);
      expect(response.headers['cache-control']).toBe('no-store');
      const text = (await pdfText(response.rawPayload)).join('\n');
      expect(text).toContain('Carla Customer');
      expect(text).toContain('87.04');
      expect(text).not.toContain('carla@example.test');
      const tampered = await open(link.path.replace('?', '/pdf?').replace(/t=./, 't=_'));
      expectInvalidPage(tampered);
    });

    it('marks the invoice viewed at the first open only, and records every open (IP, user agent) for the business', async () => {
      const fresh = await finalizedInvoice();
      const path = (await shareLink(fresh)).path;
      expect((await get(t, admin, `/v1/invoices/${fresh}`)).json().viewedAt).toBeNull();
      await t.inject({ method: 'GET', url: path, remoteAddress: '192.0.2.10', headers: { 'user-agent': 'FirstPhone/1' } });
      const first = (await get(t, admin, `/v1/invoices/${fresh}`)).json().viewedAt;
      expect(first).not.toBeNull();
      await t.inject({ method: 'GET', url: path, remoteAddress: '192.0.2.11', headers: { 'user-agent': 'SecondLaptop/2', accept: 'application/json' } });
      // HEAD (link previews) is not an open.
      expect((await t.inject({ method: 'HEAD', url: path })).statusCode).toBe(200);
      expect((await get(t, admin, `/v1/invoices/${fresh}`)).json().viewedAt).toBe(first);

      const opens = await get(t, admin, `/v1/invoices/${fresh}/opens`);
      expect(opens.statusCode).toBe(200);
      expect(opens.json()).toMatchObject({ total: 2, data: [{ ip: '192.0.2.11', userAgent: 'SecondLaptop/2' }, { ip: '192.0.2.10', userAgent: 'FirstPhone/1' }] });

      // The audit trail names the customer and shows where from (oldest last: newest first)...
      const customerId = (await get(t, admin, `/v1/invoices/${fresh}`)).json().customerId;
      const events = await waitFor(async () => {
        const page = (await get(t, admin, `/v1/audit-events?entityId=${fresh}&action=invoice.link_opened`)).json();
        return page.data.length === 2 ? page.data : undefined;
      }, { what: 'link_opened audit events folded into the chain' });
      expect(events).toEqual([
        expect.objectContaining({ actor: { type: 'customer', id: customerId }, ip: '192.0.2.11', userAgent: 'SecondLaptop/2', personalDataErased: false }),
        expect.objectContaining({ actor: { type: 'customer', id: customerId }, ip: '192.0.2.10', userAgent: 'FirstPhone/1', personalDataErased: false }),
      ]);
      // ...but the chain itself holds them only sealed under the customer's key (an erasure destroys it).
      const { rows } = await t.db.query(`SELECT ip, user_agent FROM audit_events WHERE entity_id = $1 AND action = 'invoice.link_opened'`, [fresh]);
      for (const row of rows) {
        expect(row.ip).toMatch(/^pii1\./);
        expect(row.user_agent).toMatch(/^pii1\./);
        expect(`${row.ip} ${row.user_agent}`).not.toMatch(/192\.0\.2|Phone|Laptop/);
      }
    });

    it('shows a receipt instead of payment for a paid invoice, and "void" for a void one', async () => {
      const paid = await finalizedInvoice();
      await t.db.query(`UPDATE invoices SET status = 'paid', amount_paid = total, updated_at = '2026-11-20T10:00:00Z' WHERE id = $1`, [paid]);
      const receipt = await open((await shareLink(paid)).path);
      expect(receipt.statusCode).toBe(200);
      expect(receipt.body).toContain('Receipt');
      expect(receipt.body).toContain('Paid in full on <time datetime="2026-11-20">20 November 2026</time>');

      const voided = await finalizedInvoice();
      expect((await post(t, admin, `/v1/invoices/${voided}/void`, { reason: 'Entered twice (internal)' })).statusCode).toBe(200);
      const page = await open((await shareLink(voided)).path);
      expect(page.body).toContain('This invoice is void');
      expect(page.body).not.toContain('Entered twice');
      expect((await openJson((await shareLink(voided)).path)).json()).toMatchObject({ status: 'void', payment: { card: false, paypal: false } });
    });
  });

  describe('links that must not work (401, and nothing learnt)', () => {
    let id: string;
    let otherId: string;
    let path: string;
    let day: number;
    beforeAll(async () => {
      id = await finalizedInvoice();
      otherId = await finalizedInvoice();
      path = (await shareLink(id)).path;
      day = dayNumber();
    });

    const alter = (p: string, name: 't' | 'd' | 'e', value: string): string => {
      const url = new URL(p, 'http://x');
      url.searchParams.set(name, value);
      return `${url.pathname}${url.search}`;
    };

    it.each<[string, () => string]>([
      ['one character of t changed', () => alter(path, 't', `${new URL(path, 'http://x').searchParams.get('t')!.slice(0, 23)}${new URL(path, 'http://x').searchParams.get('t')!.endsWith('A') ? 'B' : 'A'}`)],
      ['d moved a day later', () => alter(path, 'd', String(day + 1))],
      ['d moved a day earlier', () => alter(path, 'd', String(day - 1))],
      ['e changed', () => alter(path, 'e', '1')],
      ['another invoice id with this signature', () => path.replace(id, otherId)],
      ['a pay signature on the estimate page', () => path.replace('/pay/', '/estimate/')],
      ['t missing', () => path.replace(/t=[^&]+&/, '')],
      ['t too short', () => alter(path, 't', 'abc')],
      ['a non-uuid id', () => path.replace(id, 'not-a-uuid')],
      ['an unknown document', () => signedPath('pay', '00000000-0000-4000-8000-000000000000')],
      ['a key that is not configured', () => signedPath('pay', id, { key: ROGUE_KEY })],
      ['an issue day two days in the future', () => signedPath('pay', id, { day: day + 2 })],
    ])('%s', async (_name, make) => {
      const response = await open(make());
      expectInvalidPage(response);
      const json = await openJson(make());
      expect(json.statusCode).toBe(401);
      expect(json.headers['content-type']).toContain('application/problem+json');
      expect(json.json().code).toBe('link_invalid');
    });

    it('answers every invalid link with the same page, byte for byte', async () => {
      const bodies = new Set<string>();
      for (const bad of [alter(path, 'd', String(day + 1)), signedPath('pay', '00000000-0000-4000-8000-000000000000'), path.replace(id, otherId), signedPath('pay', id, { epoch: 7 })]) {
        bodies.add((await open(bad)).body);
      }
      expect(bodies.size).toBe(1);
    });

    it('checks the signature before any database read', async () => {
      const dataSource = raw.app.get(DataSource);
      const seen: string[] = [];
      const original = dataSource.query.bind(dataSource);
      const originalManager = dataSource.manager.query.bind(dataSource.manager);
      dataSource.query = (async (sql: string, ...rest: unknown[]) => {
        seen.push(sql);
        return original(sql, ...(rest as []));
      }) as typeof dataSource.query;
      dataSource.manager.query = (async (sql: string, ...rest: unknown[]) => {
        seen.push(sql);
        return originalManager(sql, ...(rest as []));
      }) as typeof dataSource.manager.query;
      try {
        expect((await open(alter(path, 't', 'A'.repeat(24)))).statusCode).toBe(401);
        expect((await open(path.replace(id, otherId))).statusCode).toBe(401);
        expect((await form(alter(path, 'd', String(day - 3)), { action: 'fresh_link' })).statusCode).toBe(401);
        // Only the rate-limit counters (in PostgreSQL when Redis is not configured) may be touched.
        expect(seen.filter((sql) => !sql.includes('rate_limit_counters'))).toEqual([]);
        expect((await open(path)).statusCode).toBe(200);
        expect(seen.some((sql) => /FROM invoices d/.test(sql))).toBe(true);
      } finally {
        dataSource.query = original;
        dataSource.manager.query = originalManager;
      }
    });

    it('verifies with every configured key: links signed with the previous key still open (rotation)', async () => {
      expect((await open(signedPath('pay', id, { key: OLD_KEY }))).statusCode).toBe(200);
      expect((await open(signedPath('pay', id, { key: NEW_KEY }))).statusCode).toBe(200);
      // New links are signed with the first key.
      const t2 = new URL(path, 'http://x').searchParams.get('t');
      expect(t2).toBe(signLink({ kind: 'pay', documentId: id, linkEpoch: 0, day }, NEW_KEY.secret));
    });

    it('revoke-all (admin) invalidates every outstanding link of the business at once; new links work', async () => {
      const estimate = await sentEstimate();
      const estimatePath = (await shareLink(estimate, 'estimates')).path;
      const before = [path, signedPath('pay', otherId, { key: OLD_KEY }), estimatePath];
      for (const p of before) expect((await open(p)).statusCode).toBe(200);

      const revoked = await post(t, admin, '/v1/settings/links/revoke-all');
      expect(revoked.statusCode).toBe(200);
      expect(revoked.json()).toMatchObject({ linkEpoch: 1 });
      for (const p of before) expectInvalidPage(await open(p));
      // A revoked link cannot ask for a fresh one either.
      expect((await form(path, { action: 'fresh_link' })).statusCode).toBe(401);

      const fresh = await shareLink(id);
      expect(new URL(fresh.url).searchParams.get('e')).toBe('1');
      expect((await open(fresh.path)).statusCode).toBe(200);
      const { rows } = await t.db.query(`SELECT actor_id FROM audit_events WHERE action = 'business.links_revoked' AND business_id = $1`, [admin.businessId]);
      expect(rows).toEqual([{ actor_id: admin.userId }]);
      path = fresh.path;
    });

    it('stops every link of a closed business', async () => {
      const owner = await readyAdmin(t, { businessName: 'Closing Down Ltd' });
      const client = await seedCustomer(t, owner.businessId);
      const invoice = await createInvoice(t, owner, invoiceBody(client));
      await post(t, owner, `/v1/invoices/${invoice.id}/finalize`);
      const response = await post(t, owner, `/v1/invoices/${invoice.id}/link`);
      const closedPath = new URL(response.json().url).pathname + new URL(response.json().url).search;
      expect((await open(closedPath)).statusCode).toBe(200);
      await t.db.query('UPDATE businesses SET closed_at = now() WHERE id = $1', [owner.businessId]);
      expectInvalidPage(await open(closedPath));
    });
  });

  describe('expired links and fresh links', () => {
    let id: string;
    let expiredPath: string;
    beforeAll(async () => {
      id = await finalizedInvoice();
      const { rows } = await t.db.query<{ link_epoch: number }>('SELECT link_epoch FROM businesses WHERE id = $1', [admin.businessId]);
      expiredPath = signedPath('pay', id, { day: dayNumber() - 61, epoch: rows[0].link_epoch });
    });

    it('answers 401 with a page that offers to email a fresh link', async () => {
      const response = await open(expiredPath);
      expect(response.statusCode).toBe(401);
      expect(response.body).toContain('This link has expired');
      expect(response.body).toContain('Email me a fresh link');
      expect(response.body).toContain('name="action" value="fresh_link"');
      expect(response.body).not.toContain('Ace Plumbing');
      expect(response.headers['cache-control']).toBe('no-store');
      expect((await openJson(expiredPath)).json().code).toBe('link_expired');
    });

    it('works through day d + 60 and expires on day d + 61', async () => {
      const { rows } = await t.db.query<{ link_epoch: number }>('SELECT link_epoch FROM businesses WHERE id = $1', [admin.businessId]);
      expect((await open(signedPath('pay', id, { day: dayNumber() - 60, epoch: rows[0].link_epoch }))).statusCode).toBe(200);
    });

    it('emails a fresh, working link to the customer address on file, never to one given in the request', async () => {
      await t.db.query(`DELETE FROM emails WHERE template = 'freshLink'`);
      const response = await form(expiredPath, { action: 'fresh_link', email: 'attacker@evil.test', to: 'attacker@evil.test' });
      expect(response.statusCode).toBe(202);
      expect(response.body).toContain('Check your email');
      expect(response.body).not.toContain('carla@');
      const { rows } = await t.db.query<{ to_address: string; text_body: string; subject: string }>(`SELECT to_address, text_body, subject FROM emails WHERE template = 'freshLink'`);
      expect(rows.map((row) => row.to_address)).toEqual(['carla@example.test']);
      expect(rows[0].subject).toMatch(/^Your link to invoice INV-\d{4}-\d{4} from Ace Plumbing$/);
      const url = /View and pay the invoice: (\S+)/.exec(rows[0].text_body)![1];
      expect(new URL(url).searchParams.get('d')).toBe(String(dayNumber()));
      const reopened = await open(new URL(url).pathname + new URL(url).search);
      expect(reopened.statusCode).toBe(200);
      const audit = (await get(t, admin, `/v1/audit-events?entityId=${id}&action=invoice.fresh_link_requested`)).json().data;
      expect(audit).toEqual([expect.objectContaining({ actor: { type: 'customer', id: expect.any(String) }, ip: expect.stringMatching(/^[0-9a-f.:]+$/) })]);
    });

    it('honours a shorter lifetime chosen by the business (admin), for links already out too', async () => {
      const { rows } = await t.db.query<{ link_epoch: number }>('SELECT link_epoch FROM businesses WHERE id = $1', [admin.businessId]);
      const epoch = rows[0].link_epoch;
      const eightDaysOld = signedPath('pay', id, { day: dayNumber() - 8, epoch });
      const sevenDaysOld = signedPath('pay', id, { day: dayNumber() - 7, epoch });
      expect((await open(eightDaysOld)).statusCode).toBe(200);
      const changed = await t.inject({ method: 'PATCH', url: '/v1/settings/links', headers: admin.auth, payload: { ttlDays: 7 } });
      expect(changed.statusCode).toBe(200);
      expect(changed.json()).toEqual({ ttlDays: 7, maxTtlDays: 60 });
      try {
        expect((await open(eightDaysOld)).body).toContain('This link has expired');
        expect((await open(sevenDaysOld)).statusCode).toBe(200);
        const link = await shareLink(id);
        expect(link.expiresAt).toBe(new Date((dayNumber() + 8) * 86_400_000).toISOString());
        for (const ttlDays of [0, 61, 1.5, '7']) {
          expect((await t.inject({ method: 'PATCH', url: '/v1/settings/links', headers: admin.auth, payload: { ttlDays } })).statusCode).toBe(400);
        }
      } finally {
        await t.inject({ method: 'PATCH', url: '/v1/settings/links', headers: admin.auth, payload: { ttlDays: 60 } });
      }
      expect((await get(t, admin, '/v1/settings/links')).json()).toEqual({ ttlDays: 60, maxTtlDays: 60 });
    });

    it('sends at most 3 fresh links per document per hour, whoever asks', async () => {
      const other = await finalizedInvoice();
      const { rows } = await t.db.query<{ link_epoch: number }>('SELECT link_epoch FROM businesses WHERE id = $1', [admin.businessId]);
      const old = signedPath('pay', other, { day: dayNumber() - 90, epoch: rows[0].link_epoch });
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 4; i += 1) {
        last = await form(old, { action: 'fresh_link' });
        statuses.push(last.statusCode);
      }
      expect(statuses).toEqual([202, 202, 202, 429]);
      expect(last!.headers['content-type']).toContain('application/problem+json');
      expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    });
  });

  describe('rate limits (per IP)', () => {
    it('answers the 61st page request in a minute from one IP with 429 problem+json and Retry-After', async () => {
      const ip = freshIp();
      const path = signedPath('pay', '00000000-0000-4000-8000-000000000000');
      const statuses: number[] = [];
      for (let i = 0; i < 61; i += 1) statuses.push((await raw.inject({ method: 'GET', url: path, remoteAddress: ip })).statusCode);
      expect(statuses.slice(0, 60).every((status) => status === 401)).toBe(true);
      const limited = await raw.inject({ method: 'GET', url: path, remoteAddress: ip });
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['content-type']).toContain('application/problem+json');
      expect(limited.json().code).toBe('rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
      // Another IP is not affected.
      expect((await raw.inject({ method: 'GET', url: path, remoteAddress: freshIp() })).statusCode).toBe(401);
    });

    it('allows 10 fresh-link requests per hour from one IP', async () => {
      const ip = freshIp();
      const path = signedPath('pay', '00000000-0000-4000-8000-000000000000');
      const statuses: number[] = [];
      for (let i = 0; i < 11; i += 1) {
        const response = await raw.inject({ method: 'POST', url: path, remoteAddress: ip, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'action=fresh_link' });
        statuses.push(response.statusCode);
      }
      expect(statuses).toEqual([...Array(10).fill(401), 429]);
    });
  });

  describe('the public POSTs', () => {
    let path: string;
    beforeAll(async () => {
      path = (await shareLink(await finalizedInvoice())).path;
    });

    it.each<[string, Record<string, string>]>([
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }],
      ['a foreign Origin', { origin: 'https://evil.example' }],
    ])('refuses a cross-site form post (%s) with 403', async (_name, headers) => {
      const response = await form(path, { action: 'fresh_link' }, headers);
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('cross_site_request');
    });

    it.each<[string, Record<string, string>]>([
      ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin', origin: 'null' }],
      ['our own Origin', { origin: 'OWN' }],
      ['no Origin (an app)', {}],
    ])('accepts a post with %s', async (_name, headers) => {
      const sent = headers.origin === 'OWN' ? { origin: new URL(raw.config.baseUrl).origin } : headers;
      const response = await form(path, { action: 'pay_card' }, sent);
      // Not a CSRF refusal: card payment is simply not offered without Stripe configured.
      expect(response.statusCode).toBe(400);
    });

    it('refuses an unknown action with 400', async () => {
      const response = await form(path, { action: 'delete_everything' });
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain('text/html');
      const json = await t.inject({ method: 'POST', url: path, headers: { accept: 'application/json' }, payload: { action: 'accept' } });
      expect(json.statusCode).toBe(400);
      expect(json.json().errors[0]).toMatchObject({ field: 'action', code: 'unknown_action' });
    });
  });

  async function sentEstimate(): Promise<string> {
    const created = await post(t, admin, '/v1/estimates', { customerId, currency: 'EUR', lines: [{ description: 'New boiler', quantity: 1, unitPrice: 150_000, taxRateBps: 2000 }], terms: 'Half up front' });
    expect(created.statusCode).toBe(201);
    const sent = await post(t, admin, `/v1/estimates/${created.json().id}/send`);
    expect(sent.statusCode).toBe(200);
    return created.json().id;
  }

  describe('the estimate page', () => {
    it('refuses a link for a draft estimate (409)', async () => {
      const created = await post(t, admin, '/v1/estimates', { customerId, currency: 'EUR', lines: [{ description: 'Draft', quantity: 1, unitPrice: 100 }] });
      const response = await post(t, admin, `/v1/estimates/${created.json().id}/link`);
      expect(response.statusCode).toBe(409);
      expect(response.json().code).toBe('estimate_not_sent');
    });

    it('shows the estimate with Accept and Decline; accepting records IP, user agent and time, and cannot be declined later', async () => {
      const id = await sentEstimate();
      const { path } = await shareLink(id, 'estimates');
      const page = await open(path);
      expect(page.statusCode).toBe(200);
      expect(page.body).toMatch(/Estimate EST-\d{4}-\d{4}/);
      expect(page.body).toContain('1800.00 EUR');
      expect(page.body).toContain('value="accept"');
      expect(page.body).toContain('value="decline"');
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect((await get(t, admin, `/v1/estimates/${id}`)).json().viewedAt).not.toBeNull();

      const accepted = await t.inject({ method: 'POST', url: path, remoteAddress: '198.51.100.7', headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'CustomerPhone/3', 'sec-fetch-site': 'same-origin' }, payload: 'action=accept' });
      expect(accepted.statusCode).toBe(303);
      expect(accepted.headers.location).toBe(path);
      expect((await get(t, admin, `/v1/estimates/${id}`)).json()).toMatchObject({ status: 'accepted', acceptedAt: expect.any(String) });
      const { rows } = await t.db.query('SELECT accepted_ip, accepted_user_agent, accepted_at FROM estimates WHERE id = $1', [id]);
      expect(rows[0]).toMatchObject({ accepted_ip: '198.51.100.7', accepted_user_agent: 'CustomerPhone/3', accepted_at: expect.any(Date) });
      const audit = (await get(t, admin, `/v1/audit-events?entityId=${id}&action=estimate.accepted`)).json().data;
      expect(audit).toEqual([expect.objectContaining({ actor: { type: 'customer', id: expect.any(String) }, ip: '198.51.100.7', userAgent: 'CustomerPhone/3' })]);
      const { rows: stored } = await t.db.query(`SELECT ip FROM audit_events WHERE entity_id = $1 AND action = 'estimate.accepted'`, [id]);
      expect(stored).toEqual([{ ip: expect.stringMatching(/^pii1\./) }]);

      const after = await open(path);
      expect(after.body).toContain('This estimate was accepted on');
      expect(after.body).not.toContain('value="decline"');
      const declined = await form(path, { action: 'decline' });
      expect(declined.statusCode).toBe(409);
      expect(declined.body).toContain('That did not work');
      expect((await get(t, admin, `/v1/estimates/${id}`)).json().status).toBe('accepted');
    });

    it('answers JSON, and takes a JSON decline from an app', async () => {
      const id = await sentEstimate();
      const { path } = await shareLink(id, 'estimates');
      const view = (await openJson(path)).json();
      expect(view).toMatchObject({ kind: 'estimate', id, status: 'sent', canRespond: true, total: 180_000, customer: { name: 'Carla Customer' } });
      expect(JSON.stringify(view)).not.toMatch(/carla@example|customerId|version|acceptedIp/);
      const declined = await t.inject({ method: 'POST', url: path, headers: { accept: 'application/json' }, payload: { action: 'decline' } });
      expect(declined.statusCode).toBe(200);
      expect(declined.json()).toMatchObject({ kind: 'estimate', status: 'declined', canRespond: false });
      expect((await get(t, admin, `/v1/estimates/${id}/opens`)).json().total).toBe(1);
    });
  });

  it('never writes a link signature to the log', async () => {
    const { path } = await shareLink(await finalizedInvoice());
    await open(path);
    const signature = new URL(path, 'http://x').searchParams.get('t')!;
    expect(raw.rawLogs()).not.toContain(signature);
    expect(raw.rawLogs()).toContain('t=[REDACTED]');
  });
});

describe('pay buttons with payment providers configured', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = fromFreshIps(await startTestApp({
      env: {
        STRIPE_SECRET_KEY: 'sk_test_links_0123456789abcdef0123456789abcdef', STRIPE_WEBHOOK_SECRET: 'whsec_links_0123456789abcdef0123456789abcdef',
        PAYPAL_CLIENT_ID: 'paypal-client', PAYPAL_CLIENT_SECRET: 'paypal-secret-0123456789abcdef0123456789abcdef', PAYPAL_WEBHOOK_ID: 'WH-LINKS',
      },
    }));
  });
  afterAll(async () => {
    await t?.close();
  });

  it('shows "Pay by card" and "Pay with PayPal" for an unpaid invoice, and none for a paid one', async () => {
    const admin = await readyAdmin(t);
    const customerId = await seedCustomer(t, admin.businessId);
    const invoice = await createInvoice(t, admin, invoiceBody(customerId));
    await post(t, admin, `/v1/invoices/${invoice.id}/finalize`);
    const url = new URL((await post(t, admin, `/v1/invoices/${invoice.id}/link`)).json().url);
    const path = `${url.pathname}${url.search}`;
    const page = await t.inject({ method: 'GET', url: path });
    expect(page.body).toContain('Pay by card');
    expect(page.body).toContain('Pay with PayPal');
    // The buttons post to the payments module's routes under the same signed URL.
    expect(page.body).toContain(`action="${url.pathname}/checkout/stripe${url.search.replace(/&/g, '&amp;')}"`);
    expect(page.body).toContain(`action="${url.pathname}/paypal${url.search.replace(/&/g, '&amp;')}"`);
    expect(page.headers['content-security-policy']).toContain("form-action 'self' https://checkout.stripe.com https://www.paypal.com");
    // A post of the action to the page itself (an older page) is forwarded there, keeping the POST.
    const pay = await t.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' }, payload: 'action=pay_card' });
    expect(pay.statusCode).toBe(307);
    expect(pay.headers.location).toBe(`${url.pathname}/checkout/stripe${url.search}`);

    await t.db.query(`UPDATE invoices SET status = 'paid', amount_paid = total WHERE id = $1`, [invoice.id]);
    const paid = await t.inject({ method: 'GET', url: path });
    expect(paid.body).toContain('Receipt');
    expect(paid.body).not.toMatch(/Pay by card|Pay with PayPal/);
  });
});
