// GET /v1/invoices?limit=50 (default sort -createdAt, keyset pagination on (created_at, id) over
// invoices_business_created_idx) with a Bearer token through the full stack, versus
// bench/baselines/invoice-list.js: bare Fastify + jsonwebtoken.verify + the same keyset SELECT as
// a named prepared statement. Three variants, measured on the same two servers and interleaved
// round by round (so a noisy minute hits all three alike):
//   10k   the first page of the business with 10 thousand invoices
//   1m    the first page of the business with 1 million invoices
//   deep  the page after a cursor 90 % deep into the 1M business (900,000 rows in), computed from
//         the row there as the app encodes cursors: base64url JSON ["-createdAt", created_at::text, id]
// Derived checks: stack p50 at 1M ÷ at 10k <= 1.5, deep ÷ first page (1M) <= 1.5: keyset pages
// cost the same at any size and depth (no OFFSET, no COUNT). Setup EXPLAINs all three statements.
import { isDeepStrictEqual } from 'node:util';
import { LIST_AFTER, LIST_FIRST } from '../baselines/invoice-sql.js';
import { call, describePlan, explain, invoiceServers, login, prepareInvoices, withDb } from '../lib/invoice-scenarios.js';

const LIMIT = 50;
const DEPTH = 0.9;
const page = (ctx, variant) => `/v1/invoices?limit=${LIMIT}${variant === 'deep' ? `&cursor=${ctx.deepCursor}` : ''}`;
const listLoad = (variant) => (ctx) => ({
  method: 'GET',
  path: page(ctx, variant),
  connections: 100,
  pipelining: 1,
  durationSeconds: 10,
  headers: { authorization: `Bearer ${variant === '10k' ? ctx.smallToken : ctx.largeToken}` },
});
const p50 = (m, side = 'stack') => m[side].p50Ms;

export default {
  name: 'invoice-list',
  target: ['ratio >= 0.5', 'non2xx == 0', 'rssMaxMb <= 250'],
  rounds: 3,
  quick: { rounds: 1, durationSeconds: 3 },
  ...invoiceServers('invoice-list.js'),
  variants: [
    { name: '10k', label: 'first page @10k', load: listLoad('10k') },
    { name: '1m', label: 'first page @1M', load: listLoad('1m') },
    { name: 'deep', label: 'deep cursor @1M (90 %)', load: listLoad('deep') },
  ],
  derived: [
    { label: 'stack p50 first page @1M ÷ @10k', value: (v) => p50(v['1m']) / p50(v['10k']), target: '<= 1.5' },
    { label: 'stack p50 deep cursor ÷ first page @1M', value: (v) => p50(v.deep) / p50(v['1m']), target: '<= 1.5' },
    { label: 'baseline p50 first page @1M ÷ @10k', value: (v) => p50(v['1m'], 'baseline') / p50(v['10k'], 'baseline') },
    { label: 'baseline p50 deep cursor ÷ first page @1M', value: (v) => p50(v.deep, 'baseline') / p50(v['1m'], 'baseline') },
  ],

  async setup(ctx, { baseline, stack }) {
    const seeds = await prepareInvoices(ctx);
    ctx.smallToken = await login(stack.url, seeds.small);
    ctx.largeToken = await login(stack.url, seeds.large);
    // The deep cursor: the row DEPTH of the way down the 1M business's -createdAt order (OFFSET
    // here, once, in setup; the measured requests never use it).
    const deep = await withDb(ctx, async (c) => (await c.query(
      'SELECT created_at::text AS key, id FROM invoices WHERE business_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1',
      [seeds.large.businessId, Math.floor(seeds.large.count * DEPTH)],
    )).rows[0]);
    ctx.deepCursor = Buffer.from(JSON.stringify(['-createdAt', deep.key, deep.id]), 'utf8').toString('base64url');

    // Both servers must answer the same page (rows, order, nextCursor) for each variant.
    for (const [variant, token] of [['10k', ctx.smallToken], ['1m', ctx.largeToken], ['deep', ctx.largeToken]]) {
      const [s, b] = [await call(stack.url + page(ctx, variant), { token }), await call(baseline.url + page(ctx, variant), { token })];
      if (s.status !== 200 || b.status !== 200 || !isDeepStrictEqual(s.json(), b.json())) {
        throw new Error(`${variant} page differs: stack ${s.status} ${s.text.slice(0, 300)} / baseline ${b.status} ${b.text.slice(0, 300)}`);
      }
      const body = s.json();
      if (body.data.length !== LIMIT || !body.nextCursor) throw new Error(`${variant}: expected a full page with a next cursor, got ${body.data.length} rows`);
      if (variant === 'deep' && !(body.data[0].createdAt < new Date(deep.key.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')).toISOString())) {
        throw new Error(`deep page starts at ${body.data[0].createdAt}, not before the cursor ${deep.key}`);
      }
    }

    // The plans, as the stack's statements run them (parameters bound: custom plans).
    await withDb(ctx, async (c) => {
      const plans = {
        '10k': await explain(c, LIST_FIRST(LIMIT), [seeds.small.businessId]),
        '1m': await explain(c, LIST_FIRST(LIMIT), [seeds.large.businessId]),
        deep: await explain(c, LIST_AFTER(LIMIT), [seeds.large.businessId, deep.key, deep.id]),
      };
      ctx.plans = plans;
      for (const [variant, plan] of Object.entries(plans)) ctx.notes.push(`EXPLAIN ${variant}: ${describePlan(plan)}; Index Cond ${plan.indexCond.join(' / ')}`);
    });
  },
};
