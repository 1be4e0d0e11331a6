import type { TestApp } from './app.js';
import type { TestAccount } from './identity.js';

type Response = Awaited<ReturnType<TestApp['inject']>>;

/** A customer of the account's business, written directly (the customers suite tests the API). */
export async function seedCustomer(t: TestApp, businessId: string, values: { name?: string; email?: string | null } = {}): Promise<string> {
  const { rows } = await t.db.query<{ id: string }>('INSERT INTO customers (business_id, name, email) VALUES ($1, $2, $3) RETURNING id', [
    businessId,
    values.name ?? 'Carla Customer',
    values.email === undefined ? 'carla@example.test' : values.email,
  ]);
  return rows[0].id;
}

export const SIMPLE_LINES = [
  { description: 'Boiler service', quantity: '2.5', unitPrice: 1999, taxRateBps: 2000 },
  { description: 'Parts', quantity: 3, unitPrice: '1000', taxRateBps: 825, discount: 500 },
];

export function invoiceBody(customerId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { customerId, currency: 'EUR', issueDate: '2026-11-01', dueDate: '2026-11-30', lines: SIMPLE_LINES, ...overrides };
}

/** POST /v1/invoices; throws unless 201. The body is the API's JSON, read loosely by tests. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed JSON body
export async function createInvoice(t: TestApp, account: Pick<TestAccount, 'auth'>, body: Record<string, unknown>): Promise<Record<string, any>> {
  const response = await t.inject({ method: 'POST', url: '/v1/invoices', headers: account.auth, payload: body });
  if (response.statusCode !== 201) throw new Error(`create invoice failed: ${response.statusCode} ${response.body}`);
  return response.json();
}

export async function post(t: TestApp, account: Pick<TestAccount, 'auth'>, url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return t.inject({ method: 'POST', url, headers: { ...account.auth, ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });
}

export async function get(t: TestApp, account: Pick<TestAccount, 'auth'>, url: string): Promise<Response> {
  return t.inject({ method: 'GET', url, headers: account.auth });
}

export async function countRows(t: TestApp, table: string, businessId: string): Promise<number> {
  const { rows } = await t.db.query<{ count: string }>(`SELECT count(*) FROM ${table} WHERE business_id = $1`, [businessId]);
  return Number(rows[0].count);
}

export async function auditActions(t: TestApp, businessId: string, entityId: string): Promise<string[]> {
  const { rows } = await t.db.query<{ action: string }>('SELECT action FROM audit_events WHERE business_id = $1 AND entity_id = $2 ORDER BY seq', [businessId, entityId]);
  return rows.map((row) => row.action);
}
