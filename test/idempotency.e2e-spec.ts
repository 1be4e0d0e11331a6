import { startTestApp, type TestApp } from './harness/app.js';
import { readyAdmin, type TestAccount } from './harness/identity.js';
import { countRows, invoiceBody, seedCustomer } from './harness/invoicing.js';

/** A client that retries a creating POST with the same Idempotency-Key creates the thing once. */
describe('Idempotency-Key on creating POSTs', () => {
  let t: TestApp;
  let owner: TestAccount;
  let customerId: string;

  beforeAll(async () => {
    t = await startTestApp();
    owner = await readyAdmin(t, { businessName: 'Retry Co' });
    customerId = await seedCustomer(t, owner.businessId);
  });
  afterAll(async () => {
    await t?.close();
  });

  const create = (key: string | undefined, body: Record<string, unknown> = invoiceBody(customerId)) =>
    t.inject({ method: 'POST', url: '/v1/invoices', headers: { ...owner.auth, ...(key === undefined ? {} : { 'idempotency-key': key }) }, payload: body });

  it('replays the first answer for a retry with the same key and body', async () => {
    const before = await countRows(t, 'invoices', owner.businessId);
    const first = await create('retry-1');
    const second = await create('retry-1');
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    expect(second.json().id).toBe(first.json().id);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(await countRows(t, 'invoices', owner.businessId)).toBe(before + 1);
  });

  it('refuses the same key with a different body (422)', async () => {
    await create('retry-2');
    const reused = await create('retry-2', invoiceBody(customerId, { notes: 'something else' }));
    expect(reused.statusCode).toBe(422);
    expect(reused.json().code).toBe('idempotency_key_reused');
  });

  it('creates once when ten retries race', async () => {
    const before = await countRows(t, 'invoices', owner.businessId);
    const results = await Promise.all(Array.from({ length: 10 }, () => create('race-1')));
    const created = results.filter((result) => result.statusCode === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((result) => result.json().id)).size).toBe(1);
    for (const result of results.filter((item) => item.statusCode !== 201)) expect(result.json().code).toBe('idempotency_request_in_progress');
    expect(await countRows(t, 'invoices', owner.businessId)).toBe(before + 1);
  });

  it('releases the key when the request fails, so a corrected retry can use it', async () => {
    const bad = await create('fix-1', invoiceBody(customerId, { currency: 'XXX' }));
    expect(bad.statusCode).toBe(400);
    const fixed = await create('fix-1');
    expect(fixed.statusCode).toBe(201);
  });

  it('keeps keys per business, and refuses a malformed key', async () => {
    const other = await readyAdmin(t, { businessName: 'Other Retry Co' });
    const otherCustomer = await seedCustomer(t, other.businessId);
    await create('shared-key');
    const theirs = await t.inject({ method: 'POST', url: '/v1/invoices', headers: { ...other.auth, 'idempotency-key': 'shared-key' }, payload: invoiceBody(otherCustomer) });
    expect(theirs.statusCode).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    const malformed = await create('bad key with spaces');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().errors[0].field).toBe('Idempotency-Key');
  });

  it('works without a key as before', async () => {
    const [a, b] = [await create(undefined), await create(undefined)];
    expect(a.json().id).not.toBe(b.json().id);
  });
});
