// POST /v1/invoices (a draft with 5 lines) with a Bearer token through the full stack (session
// check, guards, validation pipe, computeDocument, the business's default net days, then one
// transaction: customer check, invoice insert, one multi-row lines insert, the hash-chained audit
// event (advisory lock, chain head, insert) and the read-back of the created invoice) versus
// bench/baselines/invoice-create.js: bare Fastify + jsonwebtoken.verify + the same line
// arithmetic + BEGIN, the same invoice insert, lines insert and audit append, COMMIT, each a
// named prepared statement. Invoices go to a seeded business of their own ("create"), so the
// read and list businesses keep their size; it grows by every run's invoices.
//
// Every create of one business appends to that business's audit chain under one advisory lock,
// so creates serialise on the chain for as long as the lock is held (until COMMIT): for both
// servers alike. Teardown checks that the chain has no gap (count = max(seq)).
import { invoiceServers, call, login, prepareInvoices, withDb } from '../lib/invoice-scenarios.js';

const LINES = [
  { description: 'Boiler service', quantity: '1', unitPrice: 8500, taxRateBps: 2000 },
  { description: 'Call-out fee', quantity: 1, unitPrice: 4500, taxRateBps: 2000 },
  { description: 'Replacement parts', quantity: '3', unitPrice: 1299, taxRateBps: 2000 },
  { description: 'Labour (per hour)', quantity: '2.5', unitPrice: 6000, taxRateBps: 2000, discount: 1000 },
  { description: 'Travel', quantity: '12', unitPrice: 45, taxRateBps: 0 },
];

export default {
  name: 'invoice-create',
  target: ['ratio >= 0.5', 'non2xx == 0', 'rssMaxMb <= 250'],
  rounds: 3,
  quick: { rounds: 1, durationSeconds: 3 },
  ...invoiceServers('invoice-create.js'),

  async setup(ctx, { baseline, stack }) {
    const seeds = await prepareInvoices(ctx);
    ctx.seed = seeds.create;
    ctx.token = await login(stack.url, seeds.create);
    ctx.body = { customerId: seeds.create.customerId, currency: 'EUR', lines: LINES };
    // Both must create the same invoice (totals) before we measure.
    const [s, b] = [
      await call(`${stack.url}/v1/invoices`, { method: 'POST', token: ctx.token, body: ctx.body }),
      await call(`${baseline.url}/v1/invoices`, { method: 'POST', token: ctx.token, body: ctx.body }),
    ];
    if (s.status !== 201 || b.status !== 201) throw new Error(`create failed: stack ${s.status} ${s.text.slice(0, 300)} / baseline ${b.status} ${b.text.slice(0, 300)}`);
    const [sv, bv] = [s.json(), b.json()];
    for (const key of ['status', 'subtotal', 'taxTotal', 'total', 'dueDate']) {
      if (sv[key] !== bv[key]) throw new Error(`created invoices differ in ${key}: stack ${sv[key]} / baseline ${bv[key]}`);
    }
    if (sv.lines.length !== LINES.length || bv.lines !== LINES.length) throw new Error('created invoices do not have 5 lines');
    ctx.before = await withDb(ctx, async (c) => (await c.query('SELECT count(*)::int AS n FROM invoices WHERE business_id = $1', [ctx.seed.businessId])).rows[0].n);
  },

  load: (ctx) => ({
    method: 'POST',
    path: '/v1/invoices',
    body: ctx.body,
    connections: 50,
    pipelining: 1,
    durationSeconds: 10,
    headers: { authorization: `Bearer ${ctx.token}` },
  }),

  async teardown(ctx) {
    await withDb(ctx, async (c) => {
      const { rows: [chain] } = await c.query('SELECT count(*)::int AS n, coalesce(max(seq), 0)::int AS max FROM audit_events WHERE business_id = $1', [ctx.seed.businessId]);
      const { rows: [inv] } = await c.query('SELECT count(*)::int AS n FROM invoices WHERE business_id = $1', [ctx.seed.businessId]);
      ctx.notes.push(`${(inv.n - ctx.before).toLocaleString('en-US')} invoices created (warm-ups included); the business now has ${inv.n.toLocaleString('en-US')}; ` +
        `its audit chain has ${chain.n} events, max seq ${chain.max}${chain.n === chain.max ? ' (no gaps)' : ' **(GAP or duplicate: the chain is broken)**'}`);
    });
  },
};
