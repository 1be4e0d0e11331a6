import fc from 'fast-check';
import { startTestApp, type TestApp } from './harness/app.js';
import { readyAdmin, type TestAccount } from './harness/identity.js';
import { countRows, seedCustomer } from './harness/invoicing.js';

/**
 * Property-based tests: generated invoices are thrown at the real API and the server's totals
 * are checked against an independent calculation written here (exact rationals, rounding half
 * to even per line, the document discount split by largest remainder); generated garbage never
 * produces a 500 or a row.
 */

// --- The independent calculation -------------------------------------------------------------

/** Round p/q (q > 0, p ≥ 0) to the nearest integer, ties to even. */
function nearestEven(p: bigint, q: bigint): bigint {
  const floor = p / q;
  const twice = 2n * (p - floor * q);
  if (twice < q) return floor;
  if (twice > q) return floor + 1n;
  return floor % 2n === 0n ? floor : floor + 1n;
}

/** "12.5" → 125000n (units of 10^-4). */
function quantityUnits(text: string): bigint {
  const [whole, fraction = ''] = text.split('.');
  return BigInt(whole) * 10_000n + BigInt(fraction.padEnd(4, '0'));
}

interface GeneratedLine {
  description: string;
  quantity: string;
  unitPrice: number;
  taxRateBps: number;
  discount: number;
}

function expectedTotals(lines: GeneratedLine[], documentDiscount: bigint) {
  const subtotals = lines.map((line) => nearestEven(quantityUnits(line.quantity) * BigInt(line.unitPrice), 10_000n));
  const taxable = subtotals.map((subtotal, index) => subtotal - BigInt(lines[index].discount));
  const weight = taxable.reduce((a, b) => a + b, 0n);
  // Largest remainder: floors first, then one unit each to the biggest remainders (ties: earlier line).
  const shares = taxable.map((value) => (weight === 0n ? 0n : (documentDiscount * value) / weight));
  let left = documentDiscount - shares.reduce((a, b) => a + b, 0n);
  const order = taxable
    .map((value, index) => ({ index, remainder: weight === 0n ? 0n : (documentDiscount * value) % weight }))
    .sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const { index } of order) {
    if (left === 0n) break;
    shares[index] += 1n;
    left -= 1n;
  }
  const lineTotals = lines.map((line, index) => {
    const base = taxable[index] - shares[index];
    const tax = nearestEven(base * BigInt(line.taxRateBps), 10_000n);
    return { subtotal: subtotals[index], discountTotal: BigInt(line.discount) + shares[index], tax, total: base + tax };
  });
  const sum = (pick: (line: (typeof lineTotals)[number]) => bigint) => lineTotals.reduce((total, line) => total + pick(line), 0n);
  return { lines: lineTotals, subtotal: sum((l) => l.subtotal), discountTotal: sum((l) => l.discountTotal), taxTotal: sum((l) => l.tax), total: sum((l) => l.total) };
}

// --- Generators ------------------------------------------------------------------------------

const quantityText = fc
  .tuple(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 9999 }))
  .map(([whole, places, fraction]) => (places === 0 ? String(whole) : `${whole}.${String(fraction).padStart(4, '0').slice(0, places)}`))
  .filter((text) => quantityUnits(text) > 0n);

const line = fc
  .record({
    description: fc.string({ minLength: 1, maxLength: 40 }).filter((text) => /\S/.test(text) && !/\d{6}/.test(text)),
    quantity: quantityText,
    unitPrice: fc.integer({ min: 0, max: 5_000_000 }),
    taxRateBps: fc.integer({ min: 0, max: 10_000 }),
    discountShare: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ discountShare, ...rest }): GeneratedLine => {
    const subtotal = nearestEven(quantityUnits(rest.quantity) * BigInt(rest.unitPrice), 10_000n);
    return { ...rest, discount: Math.floor(Number(subtotal) * discountShare) };
  })
  .filter((generated) => nearestEven(quantityUnits(generated.quantity) * BigInt(generated.unitPrice), 10_000n) < 10n ** 11n);

const invoice = fc.record({
  currency: fc.constantFrom('EUR', 'USD', 'JPY', 'BHD', 'GBP', 'KWD', 'CLP'),
  lines: fc.array(line, { minLength: 1, maxLength: 8 }),
  discountShare: fc.double({ min: 0, max: 1, noNaN: true }),
});

describe('invoice totals (property-based)', () => {
  let t: TestApp;
  let owner: TestAccount;
  let customerId: string;

  beforeAll(async () => {
    t = await startTestApp();
    owner = await readyAdmin(t, { businessName: 'Property Co' });
    customerId = await seedCustomer(t, owner.businessId);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('computes every generated invoice exactly as the independent calculation does', async () => {
    await fc.assert(
      fc.asyncProperty(invoice, async (generated) => {
        const taxableTotal = generated.lines.reduce((sum, item) => sum + nearestEven(quantityUnits(item.quantity) * BigInt(item.unitPrice), 10_000n) - BigInt(item.discount), 0n);
        const documentDiscount = BigInt(Math.floor(Number(taxableTotal) * generated.discountShare));
        const expected = expectedTotals(generated.lines, documentDiscount);
        const response = await t.inject({
          method: 'POST',
          url: '/v1/invoices',
          headers: owner.auth,
          payload: { customerId, currency: generated.currency, issueDate: '2026-06-01', netDays: 30, lines: generated.lines, discount: Number(documentDiscount) },
        });
        expect(response.statusCode).toBe(201);
        const body = response.json();
        expect(body).toMatchObject({
          subtotal: Number(expected.subtotal),
          discountTotal: Number(expected.discountTotal),
          taxTotal: Number(expected.taxTotal),
          total: Number(expected.total),
          balanceDue: Number(expected.total),
        });
        expect(body.lines.map((item: Record<string, number>) => [item.subtotal, item.discountTotal, item.tax, item.total])).toEqual(
          expected.lines.map((item) => [item.subtotal, item.discountTotal, item.tax, item.total].map(Number)),
        );
        // The invariants a reader of any invoice relies on.
        expect(body.total).toBe(body.subtotal - body.discountTotal + body.taxTotal);
        expect(body.lines.reduce((sum: number, item: { total: number }) => sum + item.total, 0)).toBe(body.total);
      }),
      { numRuns: 60 },
    );
  });

  it('answers malformed invoices with a 4xx problem, never a 500, and writes nothing', async () => {
    const before = await countRows(t, 'invoices', owner.businessId);
    const value = fc.oneof(fc.anything(), fc.double(), fc.string(), fc.constantFrom('1e3', '-1', 'NaN', '1.5', '', '0x10', '9'.repeat(30), null));
    const garbageLine = fc.record({ description: value, quantity: value, unitPrice: value, taxRateBps: value, discount: value }, { requiredKeys: [] });
    const body = fc.record(
      {
        customerId: fc.oneof(fc.constant(customerId), fc.uuid(), value),
        currency: fc.oneof(fc.constantFrom('EUR', 'JPY', 'xxx', 'EURO'), value),
        issueDate: fc.oneof(fc.constantFrom('2026-02-30', '2026-01-01', '01/02/2026'), value),
        dueDate: fc.oneof(fc.constantFrom('2025-12-31', '2026-13-01'), value),
        lines: fc.oneof(fc.array(garbageLine, { maxLength: 4 }), value),
        discount: value,
        notes: value,
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const response = await t.inject({ method: 'POST', url: '/v1/invoices', headers: { ...owner.auth, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
        // A generated body can be valid by chance; anything else must be a clear 4xx problem.
        if (response.statusCode === 201) return;
        expect([400, 404]).toContain(response.statusCode);
        expect(response.headers['content-type']).toContain('application/problem+json');
      }),
      { numRuns: 150 },
    );
    const { rows } = await t.db.query<{ count: string }>(`SELECT count(*) FROM invoices WHERE business_id = $1 AND NOT EXISTS (SELECT 1 FROM invoice_lines l WHERE l.invoice_id = invoices.id)`, [owner.businessId]);
    expect(rows[0].count).toBe('0'); // no half-written invoice (an invoice without lines)
    expect(await countRows(t, 'invoices', owner.businessId)).toBeGreaterThanOrEqual(before);
  });
});
