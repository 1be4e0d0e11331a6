import { randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from './harness/app.js';
import { enrollMfa, fromFreshIps, inviteAndAccept, mobileLogin, readyAdmin, strongPassword, uniqueEmail, type TestAccount } from './harness/identity.js';

type Json = Record<string, unknown>;
type Response = Awaited<ReturnType<TestApp['inject']>>;

const URL = '/v1/recurring-invoices';
const CARD = '4111 1111 1111 1111';

describe('recurring invoices', () => {
  let t: TestApp;
  let owner: TestAccount;
  let bob: TestAccount;
  let billing: TestAccount;
  let viewer: TestAccount;
  let customerId: string;
  let bobCustomerId: string;

  async function newCustomer(businessId: string, name = 'Carla Customer'): Promise<string> {
    const { rows } = await t.db.query('INSERT INTO customers (business_id, name) VALUES ($1, $2) RETURNING id', [businessId, name]);
    return rows[0].id as string;
  }

  /** A member of the owner's business with `role`, logged in as a mobile client (MFA enrolled unless viewer). */
  async function member(role: 'billing' | 'viewer'): Promise<TestAccount> {
    const helpers = fromFreshIps(t);
    const email = uniqueEmail(role);
    const password = strongPassword();
    const joined = await inviteAndAccept(helpers, owner, { email, password }, role);
    const session = await mobileLogin(helpers, { email, password }, { businessId: owner.businessId });
    const account: TestAccount = { email, password, userId: joined.userId, businessId: joined.businessId, accessToken: session.accessToken, refreshToken: session.refreshToken, auth: session.auth };
    return role === 'viewer' ? account : enrollMfa(helpers, account);
  }

  beforeAll(async () => {
    t = await startTestApp();
    const helpers = fromFreshIps(t);
    owner = await readyAdmin(helpers, { businessName: 'Ace Plumbing' });
    bob = await readyAdmin(helpers, { businessName: 'Bob Roofing' });
    customerId = await newCustomer(owner.businessId);
    bobCustomerId = await newCustomer(bob.businessId, 'Bob’s customer');
    billing = await member('billing');
    viewer = await member('viewer');
  });
  afterAll(async () => {
    await t?.close();
  });

  const monthlyOn31st = (extra: Json = {}): Json => ({
    customerId,
    currency: 'EUR',
    lines: [{ description: 'Boiler maintenance plan', quantity: '2.50', unitPrice: 4000, taxRateBps: 2000 }],
    schedule: { every: 1, unit: 'month', startDate: '2028-01-31' },
    ...extra,
  });

  const create = (payload: Json, as: TestAccount = owner): Promise<Response> => t.inject({ method: 'POST', url: URL, headers: as.auth, payload });
  const get = (id: string, as: TestAccount = owner): Promise<Response> => t.inject({ method: 'GET', url: `${URL}/${id}`, headers: as.auth });
  const patch = (id: string, payload: Json, ifMatch?: string, as: TestAccount = owner): Promise<Response> =>
    t.inject({ method: 'PATCH', url: `${URL}/${id}`, headers: { ...as.auth, ...(ifMatch === undefined ? {} : { 'if-match': ifMatch }) }, payload });
  const occurrences = (id: string, from: string, to: string, as: TestAccount = owner): Promise<Response> =>
    t.inject({ method: 'GET', url: `${URL}/${id}/occurrences?from=${from}&to=${to}`, headers: as.auth });

  async function created(payload: Json = monthlyOn31st(), as: TestAccount = owner): Promise<Json & { id: string; version: number }> {
    const response = await create(payload, as);
    expect({ status: response.statusCode, body: response.json() }).toMatchObject({ status: 201 });
    return response.json();
  }

  /** The field paths of a 400 answer. */
  const fields = (response: Response): string[] => [...new Set((response.json().errors as Array<{ field: string }>).map((error) => error.field))];

  async function tableState(): Promise<unknown> {
    const rows = await t.db.query('SELECT * FROM recurring_invoices ORDER BY id');
    const audit = await t.db.query(`SELECT count(*)::int AS count FROM audit_events WHERE action LIKE 'recurring_invoice.%'`);
    return { rows: rows.rows, audit: audit.rows[0].count };
  }

  async function auditActions(entityId: string): Promise<Array<{ action: string; detail: Json; actor_id: string }>> {
    const { rows } = await t.db.query(`SELECT action, detail, actor_id FROM audit_events WHERE entity_type = 'recurring_invoice' AND entity_id = $1 ORDER BY seq`, [entityId]);
    return rows;
  }

  it('creates a monthly template on the 31st: canonical lines stored, totals previewed, not stored', async () => {
    const response = await create(monthlyOn31st({ notes: 'Thank you!', lines: [
      { description: 'Boiler maintenance plan', quantity: '2.50', unitPrice: 4000, taxRateBps: 2000 },
      { description: 'Call-out', quantity: 1, unitPrice: '1999' },
    ] }));
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(response.headers.etag).toBe('"1"');
    expect(response.headers.location).toBe(`${URL}/${body.id}`);
    expect(body).toEqual({
      id: expect.any(String),
      customerId,
      currency: 'EUR',
      lines: [
        { description: 'Boiler maintenance plan', quantity: '2.5', unitPrice: 4000, taxRateBps: 2000, discount: 0 },
        { description: 'Call-out', quantity: '1', unitPrice: 1999, taxRateBps: 0, discount: 0 },
      ],
      discount: 0,
      notes: 'Thank you!',
      terms: null,
      netDays: 30,
      schedule: { every: 1, unit: 'month', startDate: '2028-01-31', dayOfMonth: null, endDate: null, count: null },
      autoSend: false,
      status: 'active',
      nextOccurrence: '2028-01-31',
      preview: { subtotal: 11999, discountTotal: 0, taxTotal: 2000, total: 13999 },
      version: 1,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const { rows } = await t.db.query('SELECT lines, created_by, business_id FROM recurring_invoices WHERE id = $1', [body.id]);
    expect(rows[0]).toEqual({ lines: body.lines, created_by: owner.userId, business_id: owner.businessId });
    const read = await get(body.id);
    expect(read.statusCode).toBe(200);
    expect(read.headers.etag).toBe('"1"');
    expect(read.json()).toEqual(body);
    const audit = await auditActions(body.id);
    expect(audit).toEqual([expect.objectContaining({ action: 'recurring_invoice.created', actor_id: owner.userId })]);
  });

  it('gives the occurrences of the 31st: Feb 29 in a leap year, Feb 28 otherwise, back to the 31st after', async () => {
    const { id } = await created();
    const leap = await occurrences(id, '2028-01-01', '2028-04-30');
    expect(leap.statusCode).toBe(200);
    expect(leap.json()).toEqual({ data: ['2028-01-31', '2028-02-29', '2028-03-31', '2028-04-30'] });
    const common = await occurrences(id, '2029-01-15', '2029-03-31');
    expect(common.json()).toEqual({ data: ['2029-01-31', '2029-02-28', '2029-03-31'] });
    // Exactly 366 days (2028 is a leap year: Jan 1 to Jan 1) is the longest range.
    const year = await occurrences(id, '2028-01-01', '2029-01-01');
    expect(year.statusCode).toBe(200);
    expect(year.json().data).toHaveLength(12);
    expect(year.json().data).toContain('2028-02-29');
    const before = await occurrences(id, '2027-01-01', '2027-12-31');
    expect(before.json()).toEqual({ data: [] });

    const tooLong = await occurrences(id, '2028-01-01', '2029-01-02');
    expect(tooLong.statusCode).toBe(400);
    expect(fields(tooLong)).toEqual(['to']);
    const inverted = await occurrences(id, '2028-03-01', '2028-02-01');
    expect(fields(inverted)).toEqual(['to']);
    const badDate = await occurrences(id, '2028-02-30', '2028-03-01');
    expect(badDate.statusCode).toBe(400);
    expect(fields(badDate)).toEqual(['from']);
    const missing = await t.inject({ method: 'GET', url: `${URL}/${id}/occurrences?from=2028-01-01`, headers: owner.auth });
    expect(missing.statusCode).toBe(400);
    expect(fields(missing)).toEqual(['to']);
  });

  it('applies count and endDate together (whichever ends first) and shows nextOccurrence null once ended', async () => {
    const both = await created(monthlyOn31st({ schedule: { every: 1, unit: 'month', startDate: '2028-01-31', endDate: '2028-12-31', count: 2 } }));
    expect((await occurrences(both.id, '2028-01-01', '2028-12-31')).json()).toEqual({ data: ['2028-01-31', '2028-02-29'] });
    const ended = await created(monthlyOn31st({ schedule: { every: 2, unit: 'week', startDate: '2020-01-06', count: 3 } }));
    expect(ended.nextOccurrence).toBeNull();
    const monthly = await created(monthlyOn31st({ schedule: { every: 1, unit: 'month', startDate: '2020-01-15', dayOfMonth: 31 } }));
    // The 31st, clamped, is the current month's last day, which is never before today.
    const now = new Date();
    const endOfMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0)).toISOString().slice(0, 10);
    expect(monthly.nextOccurrence).toBe(endOfMonth);
  });

  it('keeps the line discount and the document discount apart in storage, and previews the totals', async () => {
    const body = await created(
      monthlyOn31st({ discount: '900', netDays: 14, autoSend: true, lines: [{ description: 'Annual service', quantity: 1, unitPrice: 10000, taxRateBps: 2000, discount: 1000 }] }),
    );
    expect(body).toMatchObject({
      lines: [{ description: 'Annual service', quantity: '1', unitPrice: 10000, taxRateBps: 2000, discount: 1000 }],
      discount: 900,
      netDays: 14,
      autoSend: true,
      // 10000 − 1000 − 900 = 8100 taxable; 20% tax 1620.
      preview: { subtotal: 10000, discountTotal: 1900, taxTotal: 1620, total: 9720 },
    });
  });

  it('refuses invalid templates with 400 naming each field, and writes nothing', async () => {
    const before = await tableState();

    const values = await create(monthlyOn31st({ lines: [{ description: 'Valve', quantity: '1.23456', unitPrice: 100 }], schedule: { every: 0, unit: 'month', startDate: '2025-02-30' } }));
    expect(values.statusCode).toBe(400);
    expect(values.json().code).toBe('validation_failed');
    expect(fields(values).sort()).toEqual(['lines[0].quantity', 'schedule.every', 'schedule.startDate']);

    const types = await create(monthlyOn31st({ lines: [{ description: 'Valve', quantity: true, unitPrice: 100 }], schedule: { every: 'monthly', unit: 'month', startDate: '2028-01-31' } }));
    expect(types.statusCode).toBe(400);
    expect(fields(types).sort()).toEqual(['lines[0].quantity', 'schedule.every']);

    const currency = await create(monthlyOn31st({ currency: 'ZZZ' }));
    expect(currency.statusCode).toBe(400);
    expect(fields(currency)).toEqual(['currency']);

    const customer = await create(monthlyOn31st({ customerId: 'not-a-uuid' }));
    expect(customer.statusCode).toBe(400);
    expect(fields(customer)).toEqual(['customerId']);

    const schedules: Array<[Json, string]> = [
      [{ every: 25, unit: 'month', startDate: '2028-01-31' }, 'schedule.every'],
      [{ every: 53, unit: 'week', startDate: '2028-01-31' }, 'schedule.every'],
      [{ every: 1, unit: 'day', startDate: '2028-01-31' }, 'schedule.unit'],
      [{ every: 1, unit: 'week', startDate: '2028-01-31', dayOfMonth: 5 }, 'schedule.dayOfMonth'],
      [{ every: 1, unit: 'month', startDate: '2028-01-31', dayOfMonth: 32 }, 'schedule.dayOfMonth'],
      [{ every: 1, unit: 'month', startDate: '2028-01-31', endDate: '2028-01-30' }, 'schedule.endDate'],
      [{ every: 1, unit: 'month', startDate: '2028-01-31', count: 0 }, 'schedule.count'],
      [{ every: 1, unit: 'month', startDate: '2029-02-29' }, 'schedule.startDate'],
      [{ every: 1, unit: 'month' }, 'schedule.startDate'],
    ];
    for (const [schedule, field] of schedules) {
      const response = await create(monthlyOn31st({ schedule }));
      expect({ schedule, status: response.statusCode, fields: fields(response) }).toEqual({ schedule, status: 400, fields: [field] });
    }

    const others: Array<[Json, string]> = [
      [{ lines: [] }, 'lines'],
      [{ lines: [{ description: '', quantity: 1, unitPrice: 1 }] }, 'lines[0].description'],
      [{ lines: [{ description: 'x', quantity: 1, unitPrice: 1.5 }] }, 'lines[0].unitPrice'],
      [{ lines: [{ description: 'x', quantity: 1, unitPrice: 1, taxRateBps: 10001 }] }, 'lines[0].taxRateBps'],
      [{ lines: [{ description: 'x', quantity: 1, unitPrice: 1, colour: 'red' }] }, 'lines[0].colour'],
      [{ netDays: 366 }, 'netDays'],
      [{ netDays: null }, 'netDays'],
      [{ notes: 'x'.repeat(5001) }, 'notes'],
      [{ schedule: undefined }, 'schedule'],
      [{ status: 'paused' }, 'status'],
      [{ discount: 100_000 }, 'discount'],
    ];
    for (const [patchBody, field] of others) {
      const response = await create(monthlyOn31st(patchBody));
      expect({ patchBody, status: response.statusCode, fields: fields(response) }).toEqual({ patchBody, status: 400, fields: [field] });
    }

    // Malformed shapes are 400s too, never 500s.
    for (const shape of [{ lines: [5] }, { lines: [null] }, { lines: 'abc' }, { schedule: [] }, { schedule: 'monthly' }, { schedule: null }, { lines: [{ description: 'x', quantity: '1e3', unitPrice: 1 }] }]) {
      const response = await create(monthlyOn31st(shape));
      expect({ shape, status: response.statusCode }).toEqual({ shape, status: 400 });
    }
    const arrayBody = await t.inject({ method: 'POST', url: URL, headers: owner.auth, payload: [monthlyOn31st()] });
    expect(arrayBody.statusCode).toBe(400);

    for (const card of [{ lines: [{ description: `Paid with ${CARD}`, quantity: 1, unitPrice: 100 }] }, { notes: `card ${CARD}` }, { terms: CARD }]) {
      const response = await create(monthlyOn31st(card));
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe('card_number_not_allowed');
      expect(fields(response)).toEqual([Object.keys(card)[0] === 'lines' ? 'lines[0].description' : Object.keys(card)[0]]);
    }

    for (const foreign of [bobCustomerId, randomUUID()]) {
      const response = await create(monthlyOn31st({ customerId: foreign }));
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'customer_not_found', errors: [expect.objectContaining({ field: 'customerId' })] });
      expect(JSON.stringify(response.json())).not.toContain('Bob’s customer');
    }

    expect(await tableState()).toEqual(before);
  });

  it('updates under If-Match: 428 without it, 412 when stale, 200 with the version bumped and the changed fields audited', async () => {
    const template = await created();
    const before = await tableState();
    const missing = await patch(template.id, { notes: 'New notes' });
    expect(missing.statusCode).toBe(428);
    expect(missing.json().code).toBe('precondition_required');
    const malformed = await patch(template.id, { notes: 'New notes' }, 'version one');
    expect(malformed.statusCode).toBe(400);
    expect(fields(malformed)).toEqual(['If-Match']);
    const stale = await patch(template.id, { notes: 'New notes' }, '"7"');
    expect(stale.statusCode).toBe(412);
    expect(stale.json().code).toBe('version_mismatch');
    const invalid = await patch(template.id, { schedule: { every: 30 } }, '"1"');
    expect(invalid.statusCode).toBe(400);
    expect(fields(invalid)).toEqual(['schedule.every']);
    const card = await patch(template.id, { terms: `pay with ${CARD}` }, '"1"');
    expect(card.json().code).toBe('card_number_not_allowed');
    const foreignCustomer = await patch(template.id, { customerId: bobCustomerId }, '"1"');
    expect(foreignCustomer.statusCode).toBe(404);
    expect(foreignCustomer.json().code).toBe('customer_not_found');
    expect(await tableState()).toEqual(before);

    const ok = await patch(template.id, { notes: 'New notes', schedule: { endDate: '2028-06-30' } }, '"1"');
    expect(ok.statusCode).toBe(200);
    expect(ok.headers.etag).toBe('"2"');
    expect(ok.json()).toMatchObject({ version: 2, notes: 'New notes', schedule: { every: 1, unit: 'month', startDate: '2028-01-31', dayOfMonth: null, endDate: '2028-06-30', count: null } });
    expect((await occurrences(template.id, '2028-01-01', '2028-12-31')).json().data).toEqual(['2028-01-31', '2028-02-29', '2028-03-31', '2028-04-30', '2028-05-31', '2028-06-30']);
    expect((await get(template.id)).headers.etag).toBe('"2"');

    const again = await patch(template.id, { notes: 'Other notes' }, '"1"');
    expect(again.statusCode).toBe(412);

    const otherCustomer = await newCustomer(owner.businessId, 'Dora Second');
    const lines = [{ description: 'Gutter clean', quantity: '3', unitPrice: 2500 }];
    const third = await patch(template.id, { customerId: otherCustomer, lines, notes: null, schedule: { endDate: null, unit: 'week', every: 2 }, netDays: 7 }, '"2"');
    expect(third.statusCode).toBe(200);
    expect(third.json()).toMatchObject({
      version: 3,
      customerId: otherCustomer,
      notes: null,
      netDays: 7,
      lines: [{ description: 'Gutter clean', quantity: '3', unitPrice: 2500, taxRateBps: 0, discount: 0 }],
      schedule: { every: 2, unit: 'week', startDate: '2028-01-31', endDate: null },
      preview: { subtotal: 7500, total: 7500 },
    });

    // Nothing actually changed: same version, no audit event.
    const same = await patch(template.id, { netDays: 7, lines }, '"3"');
    expect(same.statusCode).toBe(200);
    expect(same.json().version).toBe(3);

    const audit = await auditActions(template.id);
    expect(audit.map((event) => event.action)).toEqual(['recurring_invoice.created', 'recurring_invoice.updated', 'recurring_invoice.updated']);
    expect(audit[1].detail).toMatchObject({ fields: ['notes', 'schedule.endDate'] });
    expect(audit[2].detail).toMatchObject({ fields: expect.arrayContaining(['customerId', 'lines', 'notes', 'netDays', 'schedule.every', 'schedule.unit', 'schedule.endDate']) });
  });

  it('pauses and resumes idempotently, and lists by status', async () => {
    const template = await created();
    const paused = await t.inject({ method: 'POST', url: `${URL}/${template.id}/pause`, headers: owner.auth });
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toMatchObject({ status: 'paused', version: 2 });
    expect(paused.headers.etag).toBe('"2"');
    const pausedAgain = await t.inject({ method: 'POST', url: `${URL}/${template.id}/pause`, headers: billing.auth });
    expect(pausedAgain.statusCode).toBe(200);
    expect(pausedAgain.json()).toMatchObject({ status: 'paused', version: 2 });

    const list = await t.inject({ method: 'GET', url: `${URL}?status=paused`, headers: viewer.auth });
    expect(list.statusCode).toBe(200);
    expect(list.json().data.map((item: { id: string }) => item.id)).toContain(template.id);
    expect(list.json().data.every((item: { status: string }) => item.status === 'paused')).toBe(true);

    const resumed = await t.inject({ method: 'POST', url: `${URL}/${template.id}/resume`, headers: owner.auth });
    expect(resumed.json()).toMatchObject({ status: 'active', version: 3 });
    const resumedAgain = await t.inject({ method: 'POST', url: `${URL}/${template.id}/resume`, headers: owner.auth });
    expect(resumedAgain.json()).toMatchObject({ status: 'active', version: 3 });
    const active = await t.inject({ method: 'GET', url: `${URL}?status=paused`, headers: owner.auth });
    expect(active.json().data.map((item: { id: string }) => item.id)).not.toContain(template.id);

    expect((await auditActions(template.id)).map((event) => event.action)).toEqual(['recurring_invoice.created', 'recurring_invoice.paused', 'recurring_invoice.resumed']);
  });

  it('lists newest first with keyset cursors', async () => {
    const solo = await readyAdmin(fromFreshIps(t), { businessName: 'Solo Sparks' });
    const soloCustomer = await newCustomer(solo.businessId);
    const ids: string[] = [];
    for (let index = 0; index < 3; index += 1) ids.push((await created(monthlyOn31st({ customerId: soloCustomer }), solo)).id);
    const first = await t.inject({ method: 'GET', url: `${URL}?limit=2`, headers: solo.auth });
    expect(first.statusCode).toBe(200);
    expect(first.json().data.map((item: { id: string }) => item.id)).toEqual([ids[2], ids[1]]);
    expect(first.json().nextCursor).toEqual(expect.any(String));
    const second = await t.inject({ method: 'GET', url: `${URL}?limit=2&cursor=${first.json().nextCursor}`, headers: solo.auth });
    expect(second.json()).toEqual({ data: [expect.objectContaining({ id: ids[0] })], nextCursor: null });

    for (const query of ['limit=0', 'limit=201', 'limit=two', 'cursor=%25%25', 'status=archived', 'sort=name']) {
      const response = await t.inject({ method: 'GET', url: `${URL}?${query}`, headers: solo.auth });
      expect({ query, status: response.statusCode }).toEqual({ query, status: 400 });
    }
    const forged = Buffer.from(JSON.stringify(['created_desc', '2026-13-45T99:00:00.000000Z', ids[0]])).toString('base64url');
    const forgedResponse = await t.inject({ method: 'GET', url: `${URL}?cursor=${forged}`, headers: solo.auth });
    expect(forgedResponse.statusCode).toBe(400);
    expect(fields(forgedResponse)).toEqual(['cursor']);
  });

  it('lets a viewer read but not write; billing may write', async () => {
    const template = await created(monthlyOn31st(), billing);
    expect((await get(template.id, viewer)).statusCode).toBe(200);
    expect((await occurrences(template.id, '2028-01-01', '2028-03-31', viewer)).statusCode).toBe(200);
    expect((await t.inject({ method: 'GET', url: URL, headers: viewer.auth })).statusCode).toBe(200);
    const before = await tableState();
    const writes = [
      () => create(monthlyOn31st(), viewer),
      () => patch(template.id, { notes: 'x' }, '"1"', viewer),
      () => t.inject({ method: 'POST', url: `${URL}/${template.id}/pause`, headers: viewer.auth }),
      () => t.inject({ method: 'POST', url: `${URL}/${template.id}/resume`, headers: viewer.auth }),
      () => t.inject({ method: 'DELETE', url: `${URL}/${template.id}`, headers: viewer.auth }),
    ];
    for (const write of writes) {
      const response = await write();
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('role_not_allowed');
    }
    expect(await tableState()).toEqual(before);
    expect((await patch(template.id, { autoSend: true }, '"1"', billing)).statusCode).toBe(200);
  });

  it('answers 404 to another business on every id route and changes nothing', async () => {
    const template = await created();
    const before = await tableState();
    const requests: Array<{ method: 'GET' | 'PATCH' | 'POST' | 'DELETE'; url: string; payload?: Json; headers?: Record<string, string> }> = [
      { method: 'GET', url: `${URL}/${template.id}` },
      { method: 'GET', url: `${URL}/${template.id}/occurrences?from=2028-01-01&to=2028-03-31` },
      { method: 'GET', url: `${URL}/${template.id}/occurrences` },
      { method: 'PATCH', url: `${URL}/${template.id}`, payload: { notes: 'mine now' }, headers: { 'if-match': '"1"' } },
      { method: 'PATCH', url: `${URL}/${template.id}`, payload: { notes: 'mine now' } },
      { method: 'POST', url: `${URL}/${template.id}/pause` },
      { method: 'POST', url: `${URL}/${template.id}/resume` },
      { method: 'DELETE', url: `${URL}/${template.id}` },
    ];
    for (const request of requests) {
      const response = await t.inject({ ...request, headers: { ...bob.auth, ...request.headers } });
      expect({ request: `${request.method} ${request.url}`, status: response.statusCode, code: response.json().code }).toEqual({
        request: `${request.method} ${request.url}`,
        status: 404,
        code: 'recurring_invoice_not_found',
      });
    }
    const list = await t.inject({ method: 'GET', url: URL, headers: bob.auth });
    expect(list.json().data.map((item: { id: string }) => item.id)).not.toContain(template.id);
    expect(await tableState()).toEqual(before);
    expect((await get('not-a-uuid')).statusCode).toBe(400);
    expect((await get(randomUUID())).statusCode).toBe(404);
  });

  it('deletes a template nothing was generated from; refuses with 409 once an invoice was', async () => {
    const unused = await created();
    const deleted = await t.inject({ method: 'DELETE', url: `${URL}/${unused.id}`, headers: owner.auth });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect((await get(unused.id)).statusCode).toBe(404);
    expect((await t.inject({ method: 'DELETE', url: `${URL}/${unused.id}`, headers: owner.auth })).statusCode).toBe(404);
    expect((await auditActions(unused.id)).map((event) => event.action)).toEqual(['recurring_invoice.created', 'recurring_invoice.deleted']);

    const used = await created();
    await t.db.query(
      `INSERT INTO invoices (business_id, customer_id, currency, issue_date, due_date, subtotal, discount_total, tax_total, total, recurring_invoice_id, recurring_period)
       VALUES ($1, $2, 'EUR', '2028-01-31', '2028-03-01', 10000, 0, 2000, 12000, $3, '0')`,
      [owner.businessId, customerId, used.id],
    );
    const before = await tableState();
    const refused = await t.inject({ method: 'DELETE', url: `${URL}/${used.id}`, headers: owner.auth });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('recurring_invoice_has_invoices');
    expect(refused.json().detail).toMatch(/pause/);
    expect(await tableState()).toEqual(before);
    expect((await get(used.id)).statusCode).toBe(200);
  });
});
