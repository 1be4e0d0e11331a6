// POST /webhooks/stripe with freshly signed `checkout.session.completed` events (10 % re-deliveries
// of an event already delivered) through the full stack (raw body, stripe.webhooks.constructEvent,
// the future-timestamp and livemode checks, redaction, INSERT … ON CONFLICT DO NOTHING into
// webhook_events, tryDispatch of the webhooks.process job to BullMQ on Redis, 200) versus
// bench/baselines/webhook-intake.js (bare Fastify, a hand-rolled HMAC check, the same INSERT, a raw
// queue.add). The events pay real seeded open invoices through the bench's fake Stripe
// (bench/lib/fake-stripe.js), so processing them would succeed; only the HTTP answer is measured.
//
// The stack runs as APP_ROLE=api by default (BENCH_WEBHOOK_ROLE=all to override): intake is what
// is measured, and with role `all` its own workers would process every accepted event (a Stripe
// call and a payment transaction each) on the same pinned CPU during the load, while the
// baseline's jobs are never consumed. Payment processing is measured by payment-apply.
//
// Database: BENCH_PAYMENTS_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ledgerline_bench_payments,
// created and migrated if needed). Redis: database index 12 of BENCH_PAYMENTS_REDIS_URL
// (default redis://127.0.0.1:6379); both queues are emptied at teardown.
import { startFakeStripe, checkoutCompletedEvent, sign } from '../lib/fake-stripe.js';
import {
  BASELINE_QUEUE_PREFIX, STACK_QUEUE_PREFIX, loadRow, obliterate, paymentsDatabaseUrl, paymentsRedisUrl, prepareDatabase, runPinnedLoad, runTag, seedOpenInvoices, targets, withDb,
} from '../lib/payment-scenarios.js';
import { httpRequest } from '../lib/proc.js';
import { startBaseline, startStack } from '../lib/servers.js';

const REDIS_DB = 12;
// Closed loop: by Little's law latency ≈ connections ÷ throughput, so p99 depends on this choice (50, as invoice-create).
const CONNECTIONS = Number(process.env.BENCH_WEBHOOK_CONNECTIONS) > 0 ? Math.floor(Number(process.env.BENCH_WEBHOOK_CONNECTIONS)) : 50;

export default {
  name: 'webhook-intake',
  target: ['ratio >= 0.6', 'p99Ms <= 50', 'non2xx == 0'],
  rounds: 3,
  quick: { rounds: 1, durationSeconds: 3 },
  startOrder: ['stack', 'baseline'], // the fake Stripe and the migrated database come with the stack

  stack: {
    start: async (ctx) => {
      ctx.databaseUrl = paymentsDatabaseUrl();
      ctx.redisUrl = paymentsRedisUrl(REDIS_DB);
      await prepareDatabase(ctx.databaseUrl);
      await obliterate(ctx.redisUrl, [[STACK_QUEUE_PREFIX, 'webhooks'], [BASELINE_QUEUE_PREFIX, 'webhooks']]);
      ctx.fakeStripe = await startFakeStripe(ctx);
      try {
        const srv = await startStack(ctx, { env: { DATABASE_URL: ctx.databaseUrl, REDIS_URL: ctx.redisUrl, APP_ROLE: process.env.BENCH_WEBHOOK_ROLE || 'api', ...ctx.fakeStripe.env } });
        const stop = srv.stop;
        return { ...srv, stop: async () => ((await Promise.all([stop(), ctx.fakeStripe.stop()]))[0]) };
      } catch (error) {
        await ctx.fakeStripe.stop();
        throw error;
      }
    },
  },
  baseline: {
    start: (ctx) => startBaseline(ctx, 'webhook-intake.js', { env: { BENCH_DATABASE_URL: ctx.databaseUrl, BENCH_REDIS_URL: ctx.redisUrl, STRIPE_WEBHOOK_SECRET: ctx.fakeStripe.webhookSecret } }),
  },

  async setup(ctx, { baseline, stack }) {
    const seeded = await seedOpenInvoices(ctx.databaseUrl, { businesses: 4, perBusiness: 250, label: `intake ${runTag()}` });
    ctx.targets = targets(seeded);
    ctx.before = await withDb(ctx.databaseUrl, async (c) => (await c.query('SELECT count(*)::int AS n FROM webhook_events')).rows[0].n);
    // Both accept a signed event, call a re-delivery a duplicate, and refuse a forged one, before we measure.
    const t = ctx.targets[0];
    for (const [side, srv] of [['stack', stack], ['baseline', baseline]]) {
      const body = JSON.stringify(checkoutCompletedEvent({ eventId: `evt_bench_check_${side}_${runTag()}`, ...t, amount: 100, tag: runTag() }));
      const post = (header) => httpRequest(`${srv.url}/webhooks/stripe`, { method: 'POST', body, headers: { 'stripe-signature': header } });
      const [first, again, forged] = [await post(sign(body, ctx.fakeStripe.webhookSecret)), await post(sign(body, ctx.fakeStripe.webhookSecret)), await post(sign(body, 'whsec_wrong'))];
      if (first.status !== 200 || first.json().duplicate !== false) throw new Error(`${side}: a signed event got ${first.status} ${first.text.slice(0, 300)}`);
      if (again.status !== 200 || again.json().duplicate !== true) throw new Error(`${side}: a re-delivery got ${again.status} ${again.text.slice(0, 300)}`);
      if (forged.status !== 400) throw new Error(`${side}: a forged signature got ${forged.status}, expected 400`);
    }
    ctx.notes.push(`stack APP_ROLE=${process.env.BENCH_WEBHOOK_ROLE || 'api'}; events pay ${ctx.targets.length} seeded open invoices of ${seeded.length} businesses through the fake Stripe at ${ctx.fakeStripe.url}`);
  },

  load: () => ({
    method: 'POST',
    path: '/webhooks/stripe',
    connections: CONNECTIONS,
    durationSeconds: 10,
    duplicateRate: 0.1,
    run: async ({ ctx, url, durationSeconds, side }) => {
      const r = await runPinnedLoad(ctx, 'intake-load', {
        url: `${url}/webhooks/stripe`, secret: ctx.fakeStripe.webhookSecret, targets: ctx.targets, connections: CONNECTIONS, durationSeconds, duplicateRate: 0.1, tag: `${side[0]}${runTag()}`,
      });
      (ctx.intakeCounts ??= []).push({ side, events: r.events, duplicatesSent: r.duplicatesSent, duplicatesAnswered: r.duplicatesAnswered });
      return loadRow(r);
    },
  }),

  async teardown(ctx) {
    const after = await withDb(ctx.databaseUrl, async (c) => (await c.query('SELECT count(*)::int AS n FROM webhook_events')).rows[0].n);
    const sum = (side, key) => ctx.intakeCounts.filter((x) => x.side === side).reduce((a, x) => a + x[key], 0);
    ctx.notes.push(`${(after - ctx.before).toLocaleString('en-US')} events stored (warm-ups included); re-deliveries sent / answered duplicate: ` +
      `baseline ${sum('baseline', 'duplicatesSent')} / ${sum('baseline', 'duplicatesAnswered')}, stack ${sum('stack', 'duplicatesSent')} / ${sum('stack', 'duplicatesAnswered')}`);
    await obliterate(ctx.redisUrl, [[STACK_QUEUE_PREFIX, 'webhooks'], [BASELINE_QUEUE_PREFIX, 'webhooks']]);
  },
};
