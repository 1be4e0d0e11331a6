// GET /v1/invoices/:id with a Bearer token through the full stack (passport-jwt, the session
// check, guards, then one statement that reads the invoice with its lines and writes the
// audit_inbox view event: InvoicesRepository.findWithLinesLoggingView) versus
// bench/baselines/invoice-read.js: bare Fastify + jsonwebtoken.verify + that same statement as a
// named prepared statement. Reads cycle over 256 invoices spread over the whole history of the
// business with 1M invoices (bench/lib/seed-invoices.js seeds it once and reuses it).
import { isDeepStrictEqual } from 'node:util';
import { READ } from '../baselines/invoice-sql.js';
import { call, describePlan, explain, invoiceServers, login, prepareInvoices, withDb } from '../lib/invoice-scenarios.js';
import { sampleInvoiceIds } from '../lib/seed-invoices.js';

export default {
  name: 'invoice-read',
  target: ['ratio >= 0.6', 'non2xx == 0', 'rssMaxMb <= 250'],
  rounds: 3,
  quick: { rounds: 1, durationSeconds: 3 },
  ...invoiceServers('invoice-read.js'),

  async setup(ctx, { baseline, stack }) {
    const seeds = await prepareInvoices(ctx);
    const seed = seeds.large;
    ctx.token = await login(stack.url, seed);
    ctx.ids = await withDb(ctx, (c) => sampleInvoiceIds(c, seed, 256));
    if (ctx.ids.length !== 256) throw new Error(`expected 256 seeded invoices, found ${ctx.ids.length}`);
    // Both must answer the same 200 JSON (and ETag) for the same invoices before we measure.
    for (const id of [ctx.ids[0], ctx.ids[128], ctx.ids[255]]) {
      const [s, b] = [await call(`${stack.url}/v1/invoices/${id}`, { token: ctx.token }), await call(`${baseline.url}/v1/invoices/${id}`, { token: ctx.token })];
      if (s.status !== 200 || b.status !== 200 || !isDeepStrictEqual(s.json(), b.json())) throw new Error(`invoice ${id} differs: stack ${s.status} ${s.text.slice(0, 300)} / baseline ${b.status} ${b.text.slice(0, 300)}`);
    }
    const plan = await withDb(ctx, (c) => explain(c, READ, [seed.businessId, ctx.ids[128], seed.businessId, 'user', seed.userId, 'invoice.viewed', 'invoice', ctx.ids[128], '127.0.0.1', 'bench', '{}']));
    ctx.notes.push(`EXPLAIN read (business with ${seed.count.toLocaleString('en-US')} invoices): ${describePlan(plan)}`);
  },

  load: (ctx) => ({
    method: 'GET',
    path: `/v1/invoices/${ctx.ids[0]}`,
    requests: ctx.ids.map((id) => ({ method: 'GET', path: `/v1/invoices/${id}` })), // each connection cycles through them
    connections: 100,
    pipelining: 1, // every request reaches the database
    durationSeconds: 10,
    headers: { authorization: `Bearer ${ctx.token}` },
  }),
};
