// Payment application from queued events: N `checkout.session.completed` events (stored as
// WebhookInbox.receive stores them, set-based) processed by the stack's BullMQ workers
// (webhooks.process: claim the row, GET the payment intent from the fake Stripe, then one
// transaction: invoice row lock, payment INSERT … ON CONFLICT, the ledger recompute, audit append,
// receipt email row; then the email job, markCheckout and finish) versus
// bench/baselines/payment-apply.js, a raw pg loop of the same statements at the same concurrency
// (8: the stack's QUEUE_POLICIES.webhooks.concurrency, fixed in src/jobs/job-contract.ts).
//
// The measured value is wall time to process the batch: for the stack from resuming its paused
// queue (the N jobs were added with the row ids as job ids while it was paused) until no row of
// the batch is 'received' any more (polled every 50 ms); for the baseline the POST /drain call.
// req/s in the table is events applied per second. Latency columns stay empty.
//
// Variants: `spread` (events round-robin over 64 businesses × 320 open invoices) and `hot`
// (every event pays the same invoice: they serialise on its row lock and its business's audit
// chain lock). N: BENCH_PAYMENTS_N, default 20,000 (quick: 2,000); warm-ups 1,000 (quick 300).
// Teardown checks the hot invoice's ledger (amount paid = Σ payments = events × 1.00 EUR) and
// audit chain, and measures the baseline loop on the hot invoice at 4 and 64 concurrent (the
// stack's concurrency cannot be set without changing src/).
//
// Database: BENCH_PAYMENTS_DATABASE_URL (default ledgerline_bench_payments on 127.0.0.1:5432).
// Redis: database index 11 (BullMQ backend of the stack; the baseline's email jobs go to the
// prefix ledgerline-bench-baseline there). Both queues' leftovers are removed at teardown.
import { startFakeStripe } from '../lib/fake-stripe.js';
import {
  BASELINE_QUEUE_PREFIX, STACK_QUEUE_PREFIX, WEBHOOK_POLICY, batchStatus, enqueueForStack, insertQueuedEvents, obliterate, paymentsDatabaseUrl, paymentsRedisUrl,
  prepareDatabase, runTag, seedOpenInvoices, targets, waitDrained, withDb,
} from '../lib/payment-scenarios.js';
import { httpRequest } from '../lib/proc.js';
import { startBaseline, startStack } from '../lib/servers.js';

const REDIS_DB = 11;
const CONCURRENCY = WEBHOOK_POLICY.concurrency;
const AMOUNT = 100; // cents per event

function batchSize(ctx, warmup) {
  const n = Number(process.env.BENCH_PAYMENTS_N) > 0 ? Math.floor(Number(process.env.BENCH_PAYMENTS_N)) : ctx.quick ? 2000 : 20_000;
  return warmup ? Math.min(n, ctx.quick ? 300 : 1000) : n;
}

/** Processes one batch on one side; resolves to run.js's row fields (rps = events per second). */
async function drain(ctx, side, pool, n, concurrency = CONCURRENCY) {
  const tag = await insertQueuedEvents(ctx.databaseUrl, pool, n, { amount: AMOUNT });
  const sampler = await activitySampler(ctx.databaseUrl);
  let ms;
  let status;
  let stalled = false;
  if (side === 'stack') {
    const queued = await enqueueForStack(ctx.redisUrl, ctx.databaseUrl, tag);
    try {
      const t0 = performance.now();
      await queued.resume();
      ({ ms, status, stalled } = await waitDrained(ctx.databaseUrl, tag, t0));
    } finally {
      await queued.close();
    }
  } else {
    const t0 = performance.now();
    const r = await httpRequest(`${ctx.servers.baseline.url}/drain`, { method: 'POST', body: { tag, concurrency }, timeoutMs: 900_000 });
    ms = performance.now() - t0;
    const body = r.json();
    if (body.errors?.length) ctx.notes.push(`baseline errors (first of ${body.failed}): ${body.errors.join('; ').slice(0, 300)}`);
    status = await withDb(ctx.databaseUrl, (c) => batchStatus(c, tag));
  }
  const activity = await sampler.stop();
  const bad = n - status.processed;
  if (bad > 0) ctx.notes.push(`**${side}: ${bad} of ${n} events not processed**${stalled ? ' (stalled: no progress for 60 s)' : ''}: ${JSON.stringify(status.reasons).slice(0, 400)}`);
  return {
    rps: (status.processed / ms) * 1000, totalRequests: status.processed, p50Ms: null, p99Ms: null, maxMs: null,
    non2xx: bad, errors: 0, timeouts: 0, statusCodes: status.reasons, loadCpuPct: null, wallMs: Math.round(ms), events: n, tag,
    // Diagnostics (in the JSON): commits per event, and the mean number of this database's backends
    // waiting on a lock / sitting idle inside an open transaction (waiting for the app) per 100 ms sample.
    xactsPerEvent: activity.xacts / Math.max(1, status.processed), lockWaitersAvg: activity.lockWaiters, idleInTxAvg: activity.idleInTx,
  };
}

/** Samples pg_stat_activity every 100 ms during a batch and counts the database's commits. */
async function activitySampler(url) {
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: url, application_name: 'ledgerline-bench-sampler' });
  await c.connect();
  const xacts = async () => Number((await c.query('SELECT pg_stat_get_db_xact_commit(oid) AS n FROM pg_database WHERE datname = current_database()')).rows[0].n);
  await c.query('SELECT pg_stat_clear_snapshot()');
  const x0 = await xacts();
  const samples = [];
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const { rows: [r] } = await c.query(`SELECT count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS lock, count(*) FILTER (WHERE state = 'idle in transaction')::int AS idle
                                             FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      samples.push(r);
    } finally {
      busy = false;
    }
  }, 100);
  return {
    stop: async () => {
      clearInterval(timer);
      while (busy) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 600)); // commit counters reach the shared stats within about half a second
      await c.query('SELECT pg_stat_clear_snapshot()');
      const x1 = await xacts();
      await c.end();
      const avg = (k) => Math.round((samples.reduce((a, r) => a + r[k], 0) / Math.max(1, samples.length)) * 100) / 100;
      return { xacts: x1 - x0, lockWaiters: avg('lock'), idleInTx: avg('idle') };
    },
  };
}

const variant = (name, label, poolOf, target) => ({
  name,
  label,
  target,
  load: (ctx) => ({
    events: batchSize(ctx, false),
    concurrency: CONCURRENCY,
    run: ({ ctx: c, side }) => {
      const key = `${name}:${side}`;
      c.calls ??= {};
      c.calls[key] = (c.calls[key] ?? 0) + 1;
      return (async () => drain(c, side, await poolOf(c), batchSize(c, c.calls[key] === 1)))(); // run.js warms every variant and side up once, first
    },
  }),
});

export default {
  name: 'payment-apply',
  target: ['non2xx == 0'],
  rounds: 3,
  quick: { rounds: 1 },
  startOrder: ['stack', 'baseline'],
  // After each batch: let the stack finish sending the receipts it queued before the next batch starts.
  settle: { cpuPct: 10, maxSeconds: 60 },

  stack: {
    start: async (ctx) => {
      ctx.databaseUrl = paymentsDatabaseUrl();
      ctx.redisUrl = paymentsRedisUrl(REDIS_DB);
      await prepareDatabase(ctx.databaseUrl);
      await obliterate(ctx.redisUrl, [[STACK_QUEUE_PREFIX, 'webhooks'], [STACK_QUEUE_PREFIX, 'email'], [BASELINE_QUEUE_PREFIX, 'email']]);
      ctx.fakeStripe = await startFakeStripe(ctx);
      try {
        const srv = await startStack(ctx, { env: { DATABASE_URL: ctx.databaseUrl, REDIS_URL: ctx.redisUrl, ...ctx.fakeStripe.env } });
        const stop = srv.stop;
        return { ...srv, stop: async () => ((await Promise.all([stop(), ctx.fakeStripe.stop()]))[0]) };
      } catch (error) {
        await ctx.fakeStripe.stop();
        throw error;
      }
    },
  },
  baseline: {
    start: (ctx) => startBaseline(ctx, 'payment-apply.js', {
      env: { BENCH_DATABASE_URL: ctx.databaseUrl, BENCH_REDIS_URL: ctx.redisUrl, BENCH_STRIPE_API_BASE: ctx.fakeStripe.url, BENCH_STRIPE_SECRET_KEY: ctx.fakeStripe.secretKey },
    }),
  },

  async setup(ctx) {
    const t0 = performance.now();
    const label = runTag();
    ctx.spread = targets(await seedOpenInvoices(ctx.databaseUrl, { businesses: 64, perBusiness: 320, label: `spread ${label}` }));
    ctx.label = label;
    ctx.hotInvoices = [];
    ctx.notes.push(`seeded ${ctx.spread.length.toLocaleString('en-US')} spread invoices (64 businesses) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
      `${batchSize(ctx, false).toLocaleString('en-US')} events per measured batch (${batchSize(ctx, true)} per warm-up), ${AMOUNT / 100} EUR each, concurrency ${CONCURRENCY} on both sides`);
  },

  variants: [
    variant('spread', 'spread (64 businesses × 320 invoices)', (ctx) => ctx.spread, ['ratio >= 0.5']),
    variant('hot', 'hot (1 invoice)', freshHotInvoice, ['ratio >= 0.6']),
  ],

  async teardown(ctx) {
    // The hot invoice under 4 and 64 concurrent waiters: the baseline loop only (see the header).
    const n = Math.min(batchSize(ctx, false), ctx.quick ? 1000 : 5000);
    const at = {};
    for (const c of [4, 64]) at[c] = await drain(ctx, 'baseline', await freshHotInvoice(ctx), n, c);
    ctx.notes.push(`hot invoice, baseline loop, ${n} events: ${Math.round(at[4].rps)} ev/s at 4 concurrent, ${Math.round(at[64].rps)} ev/s at 64 → ratio ${(at[64].rps / at[4].rps).toFixed(2)} (target >= 0.7); ` +
      `the stack cannot be measured at 4 / 64: its webhooks worker concurrency is fixed at ${CONCURRENCY} per process (src/jobs/job-contract.ts QUEUE_POLICIES)`);
    const bad = [];
    let payments = 0;
    for (const hot of ctx.hotInvoices) {
      const r = await checkHot(ctx, hot);
      payments += r.pay.n;
      if (!r.ok) bad.push(`${hot.invoiceId}: ${JSON.stringify(r)}`);
    }
    ctx.notes.push(`${ctx.hotInvoices.length} hot invoices (one per batch), ${payments.toLocaleString('en-US')} payments: ` +
      (bad.length ? `**INCONSISTENT** ${bad.join('; ').slice(0, 600)}` : 'each one consistent (amount paid = Σ payments = events × 1.00 EUR, one audit event per payment, no gaps)'));
    await obliterate(ctx.redisUrl, [[BASELINE_QUEUE_PREFIX, 'email']]);
  },
};

/**
 * A new business with one open invoice for every hot batch: settling recomputes the invoice from
 * all its payments (Σ over the payments table), so on a shared hot invoice each later batch would
 * pay for every earlier one, and the side measured later (the stack) would always lose.
 */
async function freshHotInvoice(ctx) {
  const [hot] = await seedOpenInvoices(ctx.databaseUrl, { businesses: 1, perBusiness: 1, total: 900_000_000_000, label: `hot ${ctx.label} #${ctx.hotInvoices.length + 1}` });
  const target = { businessId: hot.businessId, invoiceId: hot.invoiceIds[0] };
  ctx.hotInvoices.push(target);
  return [target];
}

/** The hot invoice's ledger and its business's audit chain after every batch on it. */
async function checkHot(ctx, hot) {
  {
    const check = () => withDb(ctx.databaseUrl, async (c) => {
      const { rows: [inv] } = await c.query('SELECT amount_paid::text, status FROM invoices WHERE business_id = $1 AND id = $2', [hot.businessId, hot.invoiceId]);
      const { rows: [pay] } = await c.query('SELECT count(*)::int AS n, coalesce(sum(amount), 0)::text AS sum FROM payments WHERE business_id = $1 AND invoice_id = $2', [hot.businessId, hot.invoiceId]);
      const { rows: [ev] } = await c.query(`SELECT count(*)::int AS n FROM webhook_events WHERE payload #>> '{data,object,metadata,invoice_id}' = $1 AND status = 'processed'`, [hot.invoiceId]);
      const { rows: [chain] } = await c.query('SELECT count(*)::int AS n, coalesce(max(seq), 0)::int AS max FROM audit_events WHERE business_id = $1', [hot.businessId]);
      return { inv, pay, ev, chain };
    });
    const { inv, pay, ev, chain } = await check();
    const ok = inv.amount_paid === pay.sum && pay.n === ev.n && BigInt(pay.sum) === BigInt(pay.n * AMOUNT) && chain.n === chain.max && chain.n === pay.n;
    return { ok, inv, pay, ev, chain };
  }
}
