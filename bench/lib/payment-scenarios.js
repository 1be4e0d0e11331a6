#!/usr/bin/env node
// Shared by the payment scenarios (bench/scenarios/webhook-intake.js, payment-apply.js): the
// dedicated database and Redis, seeding businesses and open invoices, queued events, the Stripe
// fake, and two measurements run.js cannot do with autocannon (a scenario's load spec `run`):
//
// - the webhook intake load: a closed loop of `connections` keep-alive workers, each POSTing a
//   freshly signed `checkout.session.completed` event (10 % re-deliveries of an event sent
//   earlier, re-signed with a new timestamp, as Stripe retries). autocannon cannot do this: it
//   replays fixed bodies, and every body needs its own HMAC. Runs as its own pinned process:
//   `node bench/lib/payment-scenarios.js intake-load` (spec as JSON on stdin), printing load.js's JSON shape.
// - draining N queued events: rows inserted set-based into webhook_events, then the stack's
//   workers (jobs added to its BullMQ queue while the queue is paused, then resumed) or the
//   baseline's raw pg loop (POST /drain) process them; wall time from resume/request to the
//   last row leaving status 'received'.
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { checkoutCompletedEvent, sign } from './fake-stripe.js';
import { pinned, sleep } from './proc.js';
import { ensureDatabase, migrate } from './seed-invoices.js';

const SELF = fileURLToPath(import.meta.url);
const say = (msg) => process.stderr.write(`${msg}\n`);

export const DEFAULT_PAYMENTS_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/ledgerline_bench_payments';
/** The bench database (never a test or dev database): BENCH_PAYMENTS_DATABASE_URL or the default. */
export const paymentsDatabaseUrl = () => process.env.BENCH_PAYMENTS_DATABASE_URL?.trim() || DEFAULT_PAYMENTS_DATABASE_URL;
/**
 * Redis for the payment scenarios: a database index of its own per scenario (the stack's queue
 * prefix is fixed to `ledgerline` by src/jobs/queue-backend.ts, so the index is what isolates
 * it from a dev server and from the other scenarios' leftovers). BENCH_PAYMENTS_REDIS_URL
 * (without a /db) replaces host and port.
 */
export function paymentsRedisUrl(db) {
  const url = new URL(process.env.BENCH_PAYMENTS_REDIS_URL?.trim() || 'redis://127.0.0.1:6379');
  url.pathname = `/${db}`;
  return url.toString();
}
export const STACK_QUEUE_PREFIX = 'ledgerline'; // src/jobs/queue-backend.ts default (main.js passes none)
export const BASELINE_QUEUE_PREFIX = 'ledgerline-bench-baseline';
/** src/jobs/job-contract.ts QUEUE_POLICIES.webhooks (concurrency 8, 10 attempts, 2 s exponential backoff). */
export const WEBHOOK_POLICY = {
  concurrency: 8,
  jobOptions: { attempts: 10, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: { age: 86400, count: 10000 }, removeOnFail: { age: 30 * 86400 } },
};
export const EMAIL_JOB_OPTIONS = { attempts: 4, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: { age: 86400, count: 5000 }, removeOnFail: { age: 14 * 86400 } };

export const runTag = () => randomBytes(5).toString('hex');

/** Creates (if needed) and migrates the bench database once per orchestrator run. */
let prepared = null;
export function prepareDatabase(url = paymentsDatabaseUrl()) {
  prepared ??= (async () => {
    await ensureDatabase(url, say);
    migrate(url, say);
  })();
  return prepared;
}

export async function withDb(url, fn) {
  const client = new pg.Client({ connectionString: url, application_name: 'ledgerline-bench-setup' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Seeds `businesses` fresh businesses (one customer each, with an email, so every payment also
 * writes its receipt row), each with `perBusiness` open, finalised invoices of `total` cents
 * (EUR), set-based. Returns [{ businessId, customerId, invoiceIds }].
 */
export async function seedOpenInvoices(url, { businesses, perBusiness, total = 100_000_000, label }) {
  return withDb(url, async (c) => {
    await c.query('BEGIN');
    try {
      const { rows: biz } = await c.query(
        `INSERT INTO businesses (name, require_mfa) SELECT $1 || ' #' || g, false FROM generate_series(1, $2::int) g RETURNING id`,
        [`Bench Payments ${label}`, businesses],
      );
      const ids = biz.map((b) => b.id);
      const { rows: customers } = await c.query(
        `INSERT INTO customers (business_id, name, email) SELECT b, 'Bench Payer Ltd', 'payer@customer.example.test' FROM unnest($1::uuid[]) b RETURNING id, business_id`,
        [ids],
      );
      const { rows: invoices } = await c.query(
        `INSERT INTO invoices (business_id, customer_id, status, number, sequence, currency, issue_date, due_date, discount, subtotal, discount_total, tax_total, total,
                               amount_paid, credited_total, version, finalized_at, sent_at, last_sent_at, send_count)
         SELECT cu.business_id, cu.id, 'open', 'INV-BENCH-' || lpad(g::text, 7, '0'), g, 'EUR', current_date, current_date + 30, 0, $2::bigint, 0, 0, $2::bigint,
                0, 0, 2, now(), now(), now(), 1
           FROM unnest($1::uuid[], $4::uuid[]) AS cu(business_id, id) CROSS JOIN generate_series(1, $3::int) g
         RETURNING id, business_id`,
        [customers.map((r) => r.business_id), total, perBusiness, customers.map((r) => r.id)],
      );
      await c.query(`INSERT INTO document_sequences (business_id, kind, last_value) SELECT b, 'invoice', $2 FROM unnest($1::uuid[]) b`, [ids, perBusiness]);
      await c.query('COMMIT');
      await c.query('ANALYZE invoices, customers, businesses');
      const byBiz = new Map(ids.map((id) => [id, { businessId: id, customerId: customers.find((r) => r.business_id === id).id, invoiceIds: [] }]));
      for (const inv of invoices) byBiz.get(inv.business_id).invoiceIds.push(inv.id);
      return [...byBiz.values()];
    } catch (error) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

/** [{ businessId, invoiceId }] round-robin over the seeded businesses, then over their invoices. */
export function targets(seeded) {
  const out = [];
  const max = Math.max(...seeded.map((s) => s.invoiceIds.length));
  for (let i = 0; i < max; i++) for (const s of seeded) if (s.invoiceIds[i]) out.push({ businessId: s.businessId, invoiceId: s.invoiceIds[i] });
  return out;
}

/** event_id range of one batch, for the (provider, event_id) unique index. */
export const batchRange = (tag) => [`evt_bench_${tag}_`, `evt_bench_${tag}_~`];

/**
 * Inserts `n` received `checkout.session.completed` events (as WebhookInbox.receive stores them:
 * the stack redacts customer_details, which these carry as '[REDACTED]') over `pool` targets,
 * set-based. Returns the tag; event ids are evt_bench_<tag>_<g>. received_at is a day ahead so
 * that the stack's sweeper (it re-queues rows 'received' for over a minute) never hands a batch
 * meant for the baseline to the stack's workers while the baseline drains it.
 */
export async function insertQueuedEvents(url, pool, n, { amount = 100 } = {}) {
  const tag = runTag();
  const picked = Array.from({ length: n }, (_, g) => pool[g % pool.length]);
  await withDb(url, (c) => c.query(
    `INSERT INTO webhook_events (provider, event_id, event_type, livemode, payload, signature, status, received_at)
     SELECT 'stripe', 'evt_bench_' || $3 || '_' || lpad(t.g::text, 6, '0'), 'checkout.session.completed', false,
            jsonb_build_object('id', 'evt_bench_' || $3 || '_' || lpad(t.g::text, 6, '0'), 'object', 'event', 'livemode', false, 'type', 'checkout.session.completed',
              'created', extract(epoch FROM now())::bigint, 'api_version', '2025-10-29.clover', 'pending_webhooks', 1,
              'data', jsonb_build_object('object', jsonb_build_object(
                'id', 'cs_test_bench_' || $3 || 'n' || t.g, 'object', 'checkout.session', 'mode', 'payment', 'status', 'complete', 'payment_status', 'paid',
                'amount_total', $4::bigint, 'currency', 'eur', 'client_reference_id', t.inv::text, 'customer_details', '[REDACTED]',
                'metadata', jsonb_build_object('business_id', t.biz::text, 'invoice_id', t.inv::text, 'invoice_version', '2'),
                'payment_intent', 'pi_bench_' || replace(t.biz::text, '-', '') || '_' || replace(t.inv::text, '-', '') || '_' || $4::bigint || '_' || $3 || 'n' || t.g,
                'livemode', false))),
            't=0,v1=bench', 'received', now() + interval '1 day'
       FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS t(biz, inv, g)`,
    [picked.map((p) => p.businessId), picked.map((p) => p.invoiceId), tag, amount],
  ));
  return tag;
}

/** { received, processed, failed, reasons } of one batch. */
export async function batchStatus(client, tag) {
  const [lo, hi] = batchRange(tag);
  const { rows } = await client.query(
    `SELECT status, coalesce(failure_reason, outcome) AS why, count(*)::int AS n FROM webhook_events
      WHERE provider = 'stripe' AND event_id > $1 AND event_id < $2 GROUP BY 1, 2`, [lo, hi]);
  const out = { received: 0, processed: 0, failed: 0, reasons: {} };
  for (const r of rows) {
    out[r.status] += r.n;
    out.reasons[`${r.status}: ${r.why ?? '–'}`] = r.n;
  }
  return out;
}

/** Polls until no event of the batch is 'received' (or nothing moved for `stallMs`). Resolves to { ms, status }. */
export async function waitDrained(url, tag, t0, { pollMs = 50, stallMs = 60_000 } = {}) {
  return withDb(url, async (c) => {
    let last = -1;
    let lastMove = performance.now();
    for (;;) {
      const status = await batchStatus(c, tag);
      if (status.received === 0) return { ms: performance.now() - t0, status };
      if (status.received !== last) {
        last = status.received;
        lastMove = performance.now();
      } else if (performance.now() - lastMove > stallMs) {
        return { ms: performance.now() - t0, status, stalled: true };
      }
      await sleep(pollMs);
    }
  });
}

/** The stack's webhooks queue (Redis backend) from the orchestrator: add the batch's jobs while paused, as WebhookInbox.dispatch would. */
export async function enqueueForStack(redisUrl, url, tag) {
  const { Queue } = await import('bullmq');
  const { Redis } = await import('ioredis');
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('webhooks', { connection, prefix: STACK_QUEUE_PREFIX });
  const [lo, hi] = batchRange(tag);
  const ids = await withDb(url, async (c) => (await c.query(`SELECT id FROM webhook_events WHERE provider = 'stripe' AND event_id > $1 AND event_id < $2 ORDER BY event_id`, [lo, hi])).rows.map((r) => r.id));
  await queue.pause();
  for (let i = 0; i < ids.length; i += 1000) {
    await queue.addBulk(ids.slice(i, i + 1000).map((id) => ({ name: 'webhooks.process', data: { eventId: id }, opts: { ...WEBHOOK_POLICY.jobOptions, jobId: `webhook.${id}` } })));
  }
  return {
    count: ids.length,
    resume: () => queue.resume(),
    close: async () => {
      await queue.resume().catch(() => undefined);
      await queue.close();
      connection.disconnect();
    },
  };
}

/** Removes every job of these queues (the bench's own Redis database index only). */
export async function obliterate(redisUrl, queues) {
  const { Queue } = await import('bullmq');
  const { Redis } = await import('ioredis');
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  try {
    for (const [prefix, name] of queues) {
      const q = new Queue(name, { connection, prefix });
      await q.obliterate({ force: true }).catch((e) => say(`obliterate ${prefix}:${name}: ${e.message}`));
      await q.close();
    }
  } finally {
    connection.disconnect();
  }
}

/** The row shape run.js's runLoad returns, from a load.js-shaped result. */
export function loadRow(r) {
  return {
    rps: r.requests.average,
    totalRequests: r.requests.total,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    loadCpuPct: r.loadCpuPct,
  };
}

/** Spawns `node bench/lib/payment-scenarios.js <mode>` on the load CPU, the spec as JSON on stdin (too big for argv); resolves to its JSON. */
export function runPinnedLoad(ctx, mode, spec) {
  const [cmd, argv] = pinned(ctx.pin.load, process.execPath, [SELF, mode]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(JSON.stringify(spec));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${mode} exited ${code ?? signal}: ${err.trim()}`))));
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * The intake load (in its own process). spec: { url, secret, targets: [{ businessId, invoiceId }],
 * connections, durationSeconds, duplicateRate, tag, timeoutSeconds }. Closed loop: every worker
 * sends one delivery at a time on a kept-alive connection. A duplicate re-sends the body of an
 * event delivered earlier in this load, signed anew.
 */
async function intakeLoad(o) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const url = new URL(o.url);
  const latencies = [];
  const statusCodeStats = {};
  const recent = [];
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let duplicatesSent = 0;
  let duplicatesAnswered = 0;
  let seq = 0;
  const t0 = performance.now();
  const deadline = t0 + o.durationSeconds * 1000;
  const one = () => new Promise((resolve) => {
    let body;
    const duplicate = recent.length > 0 && Math.random() < o.duplicateRate;
    if (duplicate) {
      body = recent[randomInt(recent.length)];
      duplicatesSent++;
    } else {
      const g = ++seq;
      const t = o.targets[g % o.targets.length];
      body = JSON.stringify(checkoutCompletedEvent({ eventId: `evt_bench_${o.tag}_${String(g).padStart(7, '0')}`, businessId: t.businessId, invoiceId: t.invoiceId, amount: 100, tag: `${o.tag}n${g}` }));
    }
    const started = performance.now();
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, timeout: (o.timeoutSeconds ?? 10) * 1000,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'stripe-signature': sign(body, o.secret), 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        const now = performance.now();
        if (now <= deadline) {
          latencies.push(now - started);
          statusCodeStats[res.statusCode] = { count: (statusCodeStats[res.statusCode]?.count ?? 0) + 1 };
          if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
          else if (/"duplicate":\s*true/.test(text)) duplicatesAnswered++;
        }
        if (!duplicate && res.statusCode === 200) {
          if (recent.length < 2000) recent.push(body);
          else recent[randomInt(recent.length)] = body;
        }
        resolve();
      });
      res.on('error', () => resolve());
    });
    req.on('timeout', () => {
      timeouts++;
      req.destroy();
    });
    req.on('error', () => {
      if (performance.now() <= deadline) errors++;
      resolve();
    });
    req.end(body);
  });
  await Promise.all(Array.from({ length: o.connections }, async () => {
    while (performance.now() < deadline) await one();
  }));
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const ms = (x) => (x == null ? null : Math.round(x * 10) / 10);
  return {
    url: o.url,
    mode: `closed loop, ${o.connections} keep-alive connections, freshly signed Stripe events, ${Math.round(o.duplicateRate * 100)} % re-deliveries`,
    requests: { average: latencies.length / o.durationSeconds, total: latencies.length },
    latency: { p50: ms(percentile(sorted, 50)), p99: ms(percentile(sorted, 99)), max: ms(sorted.at(-1)) },
    non2xx, errors, timeouts, statusCodeStats,
    events: seq, duplicatesSent, duplicatesAnswered,
  };
}

/**
 * The steady-rate load for the end-to-end latency scenario (its own process): one fresh signed
 * event every `intervalMs`, whatever the answers take. Prints { sent, non2xx, errors, tag }.
 */
async function paced(o) {
  const agent = new http.Agent({ keepAlive: true });
  const url = new URL(o.url);
  let sent = 0;
  let non2xx = 0;
  let errors = 0;
  const inflight = [];
  const t0 = performance.now();
  const total = Math.floor((o.durationSeconds * 1000) / o.intervalMs);
  for (let g = 1; g <= total; g++) {
    const t = o.targets[g % o.targets.length];
    const body = JSON.stringify(checkoutCompletedEvent({ eventId: `evt_bench_${o.tag}_${String(g).padStart(7, '0')}`, businessId: t.businessId, invoiceId: t.invoiceId, amount: 100, tag: `${o.tag}n${g}` }));
    inflight.push(new Promise((resolve) => {
      const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, timeout: 10_000,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'stripe-signature': sign(body, o.secret) } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) non2xx++;
          resolve();
        });
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    }));
    sent++;
    await sleep(Math.max(0, t0 + g * o.intervalMs - performance.now()));
  }
  await Promise.all(inflight);
  agent.destroy();
  return { sent, non2xx, errors, tag: o.tag, seconds: (performance.now() - t0) / 1000 };
}

async function cli() {
  const [mode, json] = process.argv.slice(2);
  let input = json;
  if (input === undefined) {
    input = '';
    for await (const chunk of process.stdin) input += chunk;
  }
  const o = JSON.parse(input);
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  const result = mode === 'intake-load' ? await intakeLoad(o) : mode === 'paced' ? await paced(o) : null;
  if (!result) throw new Error(`unknown mode ${mode}`);
  const cpu = process.cpuUsage(cpu0);
  result.loadCpuPct = Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - w0)) * 100);
  process.stdout.write(JSON.stringify(result));
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  cli().catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
}
