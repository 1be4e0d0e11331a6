import { randomBytes } from 'node:crypto';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AuditService } from '../src/audit/audit.service.js';
import { FieldEncryption } from '../src/common/crypto/field-encryption.js';
import { rotateEncryptedFields } from '../src/common/crypto/key-rotation.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { enrollMfa, fromFreshIps, inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, type TestAccount } from './harness/identity.js';

type Response = Awaited<ReturnType<TestApp['inject']>>;

const OLD_KEY = { id: 'k1', secret: randomBytes(36).toString('base64url') };

describe('customers', () => {
  let app: TestApp;
  let t: TestApp;
  let admin: TestAccount;
  let billing: TestAccount;
  let viewer: TestAccount;
  let other: TestAccount;

  beforeAll(async () => {
    app = await startTestApp({ env: { ENCRYPTION_KEYS: `${OLD_KEY.id}:${OLD_KEY.secret}` } });
    // Each request from a fresh IP: the signups and logins here never meet a per-IP limit.
    t = fromFreshIps(app);
    admin = await readyAdmin(t, { businessName: 'Alice Electric' });
    other = await readyAdmin(t, { businessName: 'Bob Roofing' });
    billing = await member(admin, 'billing');
    viewer = await member(admin, 'viewer');
  });
  afterAll(async () => {
    await app?.close();
  });

  /** Someone invited into `by`'s business with `role`, logged in (and enrolled in MFA unless a viewer). */
  async function member(by: TestAccount, role: 'billing' | 'viewer'): Promise<TestAccount> {
    const invitee = { email: uniqueEmail(role), password: strongPassword() };
    const joined = await inviteAndAccept(t, by, invitee, role);
    const session = await mobileLogin(t, invitee);
    const account: TestAccount = { ...invitee, userId: joined.userId, businessId: joined.businessId, accessToken: session.accessToken, refreshToken: session.refreshToken, auth: session.auth };
    return role === 'viewer' ? account : enrollMfa(t, account);
  }

  const create = (account: TestAccount, payload: Record<string, unknown>): Promise<Response> => t.inject({ method: 'POST', url: '/v1/customers', headers: account.auth, payload });
  const read = (account: TestAccount, id: string): Promise<Response> => t.inject({ method: 'GET', url: `/v1/customers/${id}`, headers: account.auth });
  const patch = (account: TestAccount, id: string, payload: Record<string, unknown>): Promise<Response> => t.inject({ method: 'PATCH', url: `/v1/customers/${id}`, headers: account.auth, payload });
  const remove = (account: TestAccount, id: string): Promise<Response> => t.inject({ method: 'DELETE', url: `/v1/customers/${id}`, headers: account.auth });
  const list = (account: TestAccount, query: string): Promise<Response> => t.inject({ method: 'GET', url: `/v1/customers${query}`, headers: account.auth });

  async function created(account: TestAccount, payload: Record<string, unknown>): Promise<Record<string, unknown> & { id: string }> {
    const response = await create(account, payload);
    expect(response.statusCode).toBe(201);
    return response.json();
  }

  /** The distinct fields a 400 names (one field may fail several constraints). */
  const fieldsOf = (response: Response): string[] => [...new Set<string>((response.json().errors ?? []).map((error: { field: string }) => error.field))];

  function expectProblem(response: Response, status: number, code?: string): void {
    expect({ status: response.statusCode, body: response.json() }).toEqual({ status, body: expect.objectContaining(code ? { code } : {}) });
    expect(response.headers['content-type']).toContain('application/problem+json');
  }

  async function storedRow(id: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await app.db.query('SELECT * FROM customers WHERE id = $1', [id]);
    return rows[0];
  }

  async function auditFor(entityId: string): Promise<Array<{ action: string; actor_id: string; business_id: string; detail: Record<string, unknown> }>> {
    const { rows } = await app.db.query(`SELECT action, actor_id::text, business_id::text, detail FROM audit_events WHERE entity_type = 'customer' AND entity_id = $1 ORDER BY seq`, [entityId]);
    return rows;
  }

  const full = {
    name: 'Jane Doe Renovations',
    email: 'jane@example.com',
    phone: '+31 6 1234 5634',
    billingAddress: { line1: 'Kerkstraat 1', line2: '2nd floor', city: 'Utrecht', region: 'UT', postalCode: '3511 AB', country: 'NL' },
    notes: 'Gate code at the back.',
    taxId: 'NL123456789B01',
  };

  it('creates, reads, updates and deletes a customer, auditing each change in the same transaction', async () => {
    const response = await create(admin, full);
    expect(response.statusCode).toBe(201);
    const customer = response.json();
    expect(customer).toEqual({ id: expect.any(String), ...full, createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(await read(admin, customer.id).then((r) => r.json())).toEqual(customer);

    const updated = await patch(admin, customer.id, { name: '  Jane Doe Renovations B.V. ', notes: null, phone: '020 555 0199', billingAddress: { city: 'Amsterdam', country: 'NL' } });
    expect(updated.statusCode).toBe(200);
    expect(updated.json()).toEqual({
      ...customer,
      name: 'Jane Doe Renovations B.V.',
      notes: null,
      phone: '020 555 0199',
      billingAddress: { city: 'Amsterdam', country: 'NL' },
      updatedAt: expect.any(String),
    });
    expect(new Date(updated.json().updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(customer.updatedAt).getTime());
    expect(await read(admin, customer.id).then((r) => r.json())).toEqual(updated.json());

    // Clearing the tax id; a field left out keeps its value.
    const cleared = await patch(admin, customer.id, { taxId: null, email: 'jane@example.com' });
    expect(cleared.json()).toMatchObject({ taxId: null, email: 'jane@example.com', name: 'Jane Doe Renovations B.V.' });
    expect((await storedRow(customer.id))?.tax_id_encrypted).toBeNull();
    // A request that changes nothing writes nothing.
    expect((await patch(admin, customer.id, { email: 'jane@example.com' })).statusCode).toBe(200);

    const deleted = await remove(admin, customer.id);
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expectProblem(await read(admin, customer.id), 404, 'customer_not_found');
    expect(await storedRow(customer.id)).toBeUndefined();

    const events = await auditFor(customer.id);
    expect(events.map((event) => event.action)).toEqual(['customer.created', 'customer.updated', 'customer.updated', 'customer.deleted']);
    for (const event of events) expect(event).toMatchObject({ actor_id: admin.userId, business_id: admin.businessId });
    expect(events[1].detail).toEqual({ changedFields: ['name', 'phone', 'billingAddress', 'notes'] });
    expect(events[2].detail).toEqual({ changedFields: ['taxId'] });
    expect(JSON.stringify(events)).not.toContain(full.taxId);
  });

  it('refuses to clear the name', async () => {
    const customer = await created(admin, { name: 'Named Ltd' });
    const response = await patch(admin, customer.id, { name: null });
    expectProblem(response, 400, 'validation_failed');
    expect(fieldsOf(response)).toContain('name');
    expect((await patch(admin, customer.id, { name: '   ' })).statusCode).toBe(400);
    expect((await read(admin, customer.id)).json().name).toBe('Named Ltd');
  });

  it('lets billing members write customers', async () => {
    const customer = await created(billing, { name: 'Billing Made', taxId: 'DE811907980' });
    expect(customer.taxId).toBe('DE811907980');
    expect((await patch(billing, customer.id, { notes: 'by billing' })).statusCode).toBe(200);
    expect((await remove(billing, customer.id)).statusCode).toBe(204);
  });

  it('refuses invalid fields with 400 problem+json naming each field', async () => {
    const response = await create(admin, { name: '', email: 'not-an-email', phone: 'call me', notes: 'x'.repeat(5001), taxId: 't'.repeat(65), billingAddress: { country: 'nl', city: 'c'.repeat(201) } });
    expectProblem(response, 400, 'validation_failed');
    expect(fieldsOf(response)).toEqual(expect.arrayContaining(['name', 'email', 'phone', 'notes', 'taxId', 'billingAddress.country', 'billingAddress.city']));

    expect(fieldsOf(await create(admin, { name: 'Ok', billingAddress: { country: 'XX' } }))).toEqual(['billingAddress.country']);
    expect(fieldsOf(await create(admin, { name: 'Ok', billingAddress: 'Kerkstraat 1' }))).toContain('billingAddress');
    expect(fieldsOf(await create(admin, { name: 'Ok', email: `${'a'.repeat(250)}@example.com` }))).toContain('email');
    expect(fieldsOf(await create(admin, { name: 'Ok', phone: '1'.repeat(41) }))).toContain('phone');
    expect(fieldsOf(await create(admin, { email: 'a@example.com' }))).toContain('name');
    expect(fieldsOf(await patch(admin, '6f1c1d2e-8a44-4c63-9a8e-3b1f4f1e2d10', { billingAddress: { country: 'Netherlands' } }))).toContain('billingAddress.country');

    // Email is trimmed before it is checked and stored.
    expect((await created(admin, { name: 'Trim', email: '  trim@example.com ' })).email).toBe('trim@example.com');
  });

  it('refuses unknown properties, top level and nested', async () => {
    const top = await create(admin, { name: 'Acme', isVip: true });
    expectProblem(top, 400, 'validation_failed');
    expect(top.json().errors).toEqual([expect.objectContaining({ field: 'isVip', code: 'unknown_property' })]);
    const nested = await create(admin, { name: 'Acme', billingAddress: { street: 'Main St' } });
    expect(nested.json().errors).toEqual([expect.objectContaining({ field: 'billingAddress.street', code: 'unknown_property' })]);
    const customer = await created(admin, { name: 'Acme' });
    const onPatch = await patch(admin, customer.id, { businessId: other.businessId });
    expect(onPatch.json().errors).toEqual([expect.objectContaining({ field: 'businessId', code: 'unknown_property' })]);
  });

  it('refuses card numbers in notes, the name and address lines', async () => {
    const inNotes = await create(admin, { name: 'Card Holder', notes: 'Pays with 4242 4242 4242 4242, exp 12/30' });
    expectProblem(inNotes, 400, 'card_number_not_allowed');
    expect(fieldsOf(inNotes)).toEqual(['notes']);
    expect(inNotes.body).not.toContain('4242 4242');
    const { rows } = await app.db.query(`SELECT 1 FROM customers WHERE name = 'Card Holder'`);
    expect(rows).toEqual([]);

    const customer = await created(admin, { name: 'Card Patch' });
    const inAddress = await patch(admin, customer.id, { billingAddress: { line1: '4000-0566-5566-5556' } });
    expectProblem(inAddress, 400, 'card_number_not_allowed');
    expect(fieldsOf(inAddress)).toEqual(['billingAddress.line1']);
    expect(fieldsOf(await create(admin, { name: 'Acme 4242424242424242' }))).toEqual(['name']);
    expect((await read(admin, customer.id)).json().billingAddress).toBeNull();
  });

  describe('listing', () => {
    let carol: TestAccount;
    let expected: string[];

    beforeAll(async () => {
      // A business of its own, so the list holds exactly what this block creates.
      carol = await readyAdmin(t, { businessName: 'Carol Carpentry' });
      const people = [
        { name: 'Zeta Plumbing', email: 'office@zeta.example' },
        { name: 'Alpha Builders', email: 'hello@alpha.example' },
        { name: '100% Roofing', email: 'roof@percent.example' },
        { name: 'Under_score Ltd', email: 'mail@under.example' },
      ];
      for (const person of people) await created(carol, person);
      // Three rows sharing one created_at (with microseconds) test the id tie-break and the
      // cursor's precision.
      await app.db.query(
        `INSERT INTO customers (business_id, name, email, created_at)
         SELECT $1, 'Tied ' || n, 'tied' || n || '@same.example', '2020-03-01T10:00:00.123456Z' FROM generate_series(1, 3) AS n`,
        [carol.businessId],
      );
      const { rows } = await app.db.query('SELECT id FROM customers WHERE business_id = $1 ORDER BY created_at DESC, id DESC', [carol.businessId]);
      expected = rows.map((row: { id: string }) => row.id);
      expect(expected).toHaveLength(7);
    });

    async function walk(query: string): Promise<{ ids: string[]; pages: number[] }> {
      const ids: string[] = [];
      const pages: number[] = [];
      let cursor: string | null = null;
      do {
        const response = await list(carol, `${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(response.statusCode).toBe(200);
        const body = response.json();
        pages.push(body.data.length);
        ids.push(...body.data.map((customer: { id: string }) => customer.id));
        cursor = body.nextCursor;
        expect(pages.length).toBeLessThan(20);
      } while (cursor);
      return { ids, pages };
    }

    it('walks every page newest first, with no duplicates or gaps', async () => {
      const { ids, pages } = await walk('?limit=3');
      expect(pages).toEqual([3, 3, 1]);
      expect(ids).toEqual(expected);
      expect(new Set(ids).size).toBe(7);
      const first = (await list(carol, '')).json();
      expect(first.data.map((customer: { id: string }) => customer.id)).toEqual(expected);
      expect(first.nextCursor).toBeNull();
      // Exactly one full page: no cursor to an empty page.
      expect((await list(carol, '?limit=7')).json().nextCursor).toBeNull();
    });

    it('searches name or email, case-insensitively, with LIKE wildcards taken literally', async () => {
      const names = async (q: string): Promise<string[]> => {
        const response = await list(carol, `?q=${encodeURIComponent(q)}`);
        expect(response.statusCode).toBe(200);
        return response.json().data.map((customer: { name: string }) => customer.name).sort();
      };
      expect(await names('PLUMB')).toEqual(['Zeta Plumbing']);
      expect(await names('hello@ALPHA')).toEqual(['Alpha Builders']);
      expect(await names('same.example')).toEqual(['Tied 1', 'Tied 2', 'Tied 3']);
      expect(await names('100%')).toEqual(['100% Roofing']);
      expect(await names('%')).toEqual(['100% Roofing']);
      expect(await names('_')).toEqual(['Under_score Ltd']);
      expect(await names('\\')).toEqual([]);
      expect(await names('nobody')).toEqual([]);
      // Search pages too.
      const { ids, pages } = await walk('?q=tied&limit=2');
      expect(pages).toEqual([2, 1]);
      // The tied rows are the oldest: the last three of the full list, in its order.
      expect(ids).toEqual(expected.slice(-3));
    });

    it('never lists another business’s customers', async () => {
      const response = await list(carol, '?q=jane');
      expect(response.json().data).toEqual([]);
      const ids = (await walk('?limit=200')).ids;
      expect(ids).toEqual(expected);
    });

    it('refuses a bad limit, cursor, q or unknown parameter with 400 naming it', async () => {
      for (const [query, field] of [
        ['?limit=0', 'limit'],
        ['?limit=201', 'limit'],
        ['?limit=abc', 'limit'],
        ['?limit=2.5', 'limit'],
        ['?cursor=not-a-cursor', 'cursor'],
        [`?cursor=${Buffer.from(JSON.stringify(['created_desc', 'yesterday', 'x'])).toString('base64url')}`, 'cursor'],
        [`?cursor=${Buffer.from(JSON.stringify(['name_asc', '2020-03-01T10:00:00.123456Z', expected[0]])).toString('base64url')}`, 'cursor'],
        [`?q=${'q'.repeat(101)}`, 'q'],
        ['?sort=name', 'sort'],
      ]) {
        const response = await list(carol, query);
        expectProblem(response, 400);
        expect({ query, fields: fieldsOf(response) }).toEqual({ query, fields: [field] });
      }
    });
  });

  it('shows viewers masked email and phone and no tax id, and refuses them every write', async () => {
    const customer = await created(admin, full);
    const seen = await read(viewer, customer.id);
    expect(seen.statusCode).toBe(200);
    const body = seen.json();
    expect(body).toEqual({ ...customer, email: 'j***@example.com', phone: '*** *** **34', taxId: undefined });
    expect(Object.keys(body)).not.toContain('taxId');
    expect(seen.body).not.toContain(full.taxId);
    const listed = (await list(viewer, '?limit=200')).json().data.find((item: { id: string }) => item.id === customer.id);
    expect(listed).toEqual(body);
    expect(Object.keys(listed)).not.toContain('taxId');

    const before = await storedRow(customer.id);
    expectProblem(await create(viewer, { name: 'Viewer Made' }), 403, 'role_not_allowed');
    expectProblem(await patch(viewer, customer.id, { name: 'Viewer Changed' }), 403, 'role_not_allowed');
    expectProblem(await remove(viewer, customer.id), 403, 'role_not_allowed');
    expect(await storedRow(customer.id)).toEqual(before);
  });

  it('shows admin the tax id and stores only ciphertext, bound to the row', async () => {
    const customer = await created(admin, { name: 'Taxed B.V.', taxId: 'NL999999999B77' });
    expect((await read(admin, customer.id)).json().taxId).toBe('NL999999999B77');
    const stored = String((await storedRow(customer.id))?.tax_id_encrypted);
    expect(stored.startsWith(`v1.${OLD_KEY.id}.`)).toBe(true);
    expect(stored).not.toContain('NL999999999B77');
    expect(stored).not.toContain(Buffer.from('NL999999999B77').toString('base64url'));
    const encryption = new FieldEncryption([OLD_KEY]);
    expect(encryption.decrypt(stored, `customers.tax_id:${customer.id}`)).toBe('NL999999999B77');
    // Copied onto another row it does not decrypt: the context names the row.
    expect(() => encryption.decrypt(stored, 'customers.tax_id:00000000-0000-4000-8000-000000000000')).toThrow();
  });

  it('answers 404 for another business’s customer and changes nothing', async () => {
    const foreign = await created(other, { ...full, name: 'Bob’s Customer' });
    const before = await storedRow(foreign.id);
    for (const response of [await read(admin, foreign.id), await patch(admin, foreign.id, { name: 'Hijacked' }), await remove(admin, foreign.id)]) {
      expectProblem(response, 404, 'customer_not_found');
    }
    expectProblem(await read(billing, foreign.id), 404, 'customer_not_found');
    expectProblem(await read(viewer, foreign.id), 404, 'customer_not_found');
    expect(await storedRow(foreign.id)).toEqual(before);
    expect((await read(other, foreign.id)).json().name).toBe('Bob’s Customer');
    expect((await auditFor(foreign.id)).map((event) => event.action)).toEqual(['customer.created']);
  });

  it('answers 404 for an unknown id and 400 for an id that is not a uuid', async () => {
    expectProblem(await read(admin, '6f1c1d2e-8a44-4c63-9a8e-3b1f4f1e2d10'), 404, 'customer_not_found');
    expectProblem(await patch(admin, '6f1c1d2e-8a44-4c63-9a8e-3b1f4f1e2d10', { name: 'x' }), 404, 'customer_not_found');
    expectProblem(await remove(admin, '6f1c1d2e-8a44-4c63-9a8e-3b1f4f1e2d10'), 404, 'customer_not_found');
    expectProblem(await read(admin, 'not-a-uuid'), 400);
  });

  it('refuses to delete a customer with an invoice (409) and keeps it', async () => {
    const customer = await created(admin, { name: 'Invoiced Ltd' });
    await app.db.query(
      `INSERT INTO invoices (business_id, customer_id, currency, issue_date, due_date, subtotal, discount_total, tax_total, total)
       VALUES ($1, $2, 'EUR', '2026-01-01', '2026-01-31', 0, 0, 0, 0)`,
      [admin.businessId, customer.id],
    );
    const response = await remove(admin, customer.id);
    expectProblem(response, 409, 'customer_has_documents');
    expect(await storedRow(customer.id)).toBeDefined();
    expect((await read(admin, customer.id)).statusCode).toBe(200);
    expect((await auditFor(customer.id)).map((event) => event.action)).toEqual(['customer.created']);
  });

  // Last: it re-encrypts the admins' MFA secrets under a key this app does not hold.
  it('re-encrypts tax ids and MFA secrets under a new key, reporting values it cannot read', async () => {
    const customer = await created(admin, { name: 'Rotated Ltd', taxId: 'BE0123456789' });
    const before = String((await storedRow(customer.id))?.tax_id_encrypted);
    expect(before.startsWith('v1.k1.')).toBe(true);
    // A value under a key nobody has any more.
    const lost = await created(admin, { name: 'Lost Key Ltd' });
    const retired = new FieldEncryption([{ id: 'k0', secret: randomBytes(36).toString('base64url') }]);
    await app.db.query('UPDATE customers SET tax_id_encrypted = $2 WHERE id = $1', [lost.id, retired.encrypt('LOST', `customers.tax_id:${lost.id}`)]);

    // A customer's audit key (made when an event of theirs carries an IP), wrapped under k1.
    await app.app.get(AuditService).record({ businessId: admin.businessId, actor: { type: 'customer', id: customer.id }, action: 'invoice.link_opened', ip: '192.0.2.44' });
    const { rows: [piiKey] } = await app.db.query<{ id: string; wrapped_key: string }>('SELECT id::text, wrapped_key FROM customer_pii_keys WHERE customer_id = $1', [customer.id]);
    expect(piiKey.wrapped_key.startsWith('v1.k1.')).toBe(true);

    const newKey = { id: 'k2', secret: randomBytes(36).toString('base64url') };
    const dataSource = app.app.get<DataSource>(getDataSourceToken());
    const report = await rotateEncryptedFields(dataSource, [newKey, OLD_KEY], { batchSize: 2 });
    const { rows: piiKeys } = await app.db.query(`SELECT count(*)::int AS n FROM customer_pii_keys`);

    const { rows: taxed } = await app.db.query(`SELECT count(*)::int AS n FROM customers WHERE tax_id_encrypted IS NOT NULL AND id <> $1`, [lost.id]);
    const { rows: mfa } = await app.db.query(`SELECT count(mfa_secret)::int AS secrets, count(mfa_pending_secret)::int AS pending FROM users`);
    expect(report.currentKeyId).toBe('k2');
    expect(report.fields).toEqual([
      { field: 'customers.tax_id_encrypted', examined: taxed[0].n + 1, rotated: taxed[0].n, skipped: 0, unknownKey: 1, invalid: 0 },
      { field: 'users.mfa_secret', examined: mfa[0].secrets, rotated: mfa[0].secrets, skipped: 0, unknownKey: 0, invalid: 0 },
      { field: 'users.mfa_pending_secret', examined: mfa[0].pending, rotated: mfa[0].pending, skipped: 0, unknownKey: 0, invalid: 0 },
      { field: 'customer_pii_keys.wrapped_key', examined: piiKeys[0].n, rotated: piiKeys[0].n, skipped: 0, unknownKey: 0, invalid: 0 },
    ]);
    expect(piiKeys[0].n).toBeGreaterThanOrEqual(1);
    expect(mfa[0].secrets).toBeGreaterThanOrEqual(3);
    expect(report.problems).toEqual([{ field: 'customers.tax_id_encrypted', id: lost.id, reason: 'unknown_key', keyId: 'k0' }]);

    const after = String((await storedRow(customer.id))?.tax_id_encrypted);
    expect(after.startsWith('v1.k2.')).toBe(true);
    expect(after).not.toBe(before);
    const onlyNew = new FieldEncryption([newKey]);
    expect(onlyNew.decrypt(after, `customers.tax_id:${customer.id}`)).toBe('BE0123456789');
    const { rows: users } = await app.db.query<{ id: string; mfa_secret: string }>('SELECT id::text, mfa_secret FROM users WHERE mfa_secret IS NOT NULL');
    for (const user of users) {
      expect(user.mfa_secret.startsWith('v1.k2.')).toBe(true);
      expect(() => onlyNew.decrypt(user.mfa_secret, `users.mfa_secret:${user.id}`)).not.toThrow();
    }
    const { rows: [rewrapped] } = await app.db.query<{ wrapped_key: string }>('SELECT wrapped_key FROM customer_pii_keys WHERE id = $1', [piiKey.id]);
    expect(rewrapped.wrapped_key.startsWith('v1.k2.')).toBe(true);
    expect(onlyNew.decrypt(rewrapped.wrapped_key, `customer_pii_keys.wrapped_key:${piiKey.id}`)).toBe(new FieldEncryption([OLD_KEY]).decrypt(piiKey.wrapped_key, `customer_pii_keys.wrapped_key:${piiKey.id}`));
    // The unreadable value is left exactly as it was.
    expect(String((await storedRow(lost.id))?.tax_id_encrypted).startsWith('v1.k0.')).toBe(true);

    // A second run finds nothing left to do but the value it cannot read.
    const again = await rotateEncryptedFields(dataSource, [newKey, OLD_KEY]);
    expect(again.fields.map((field) => field.rotated)).toEqual([0, 0, 0, 0]);
    expect(again.fields[0]).toMatchObject({ examined: 1, unknownKey: 1 });
  });
});
