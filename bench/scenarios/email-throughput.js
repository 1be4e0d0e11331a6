// 10,000 emails through the queue to the fake Postmark, on each queue backend (Redis and
// BullMQ's PostgreSQL backend), through the stack's worker role (`APP_ROLE=worker node
// dist/src/worker.js`: EmailOutbox.send with the official postmark client, concurrency 8) versus
// bench/baselines/email-worker.js: a bare BullMQ Worker on the same backend at the same
// concurrency doing the same claim UPDATE, the same POST /email and the same finish UPDATE.
//
// Each measurement (backend × side × round): wipe that side's queue, insert N `queued` rows
// (one generate_series statement), start the worker and wait until it is ready (boot not
// timed), then addBulk the N `email.send` jobs (ids `email.<row id>`, the email queue's options,
// as dispatchMany does) in batches of 1000 from the orchestrator, and time from just before the
// first addBulk to the last row's `sent_at` (the database's clock). The fake Postmark runs in its
// own process pinned to the load generator's CPU; the workers run on the server CPU. Afterwards
// the fake must have accepted every email exactly once (`non-2xx` column = emails not accepted
// exactly once). rps = emails per second; ratio = stack ÷ baseline.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { QUEUE_POLICIES } from '../../dist/src/jobs/job-contract.js';
import {
  BENCH_REDIS_URL, BENCH_DATABASE_URL, STACK_PREFIX, clearOfCron, closeQueue, emailBusiness, fillResult, openQueue, prepareDatabase, sampleProcess, say,
  seedQueuedEmails, sideFigures, spawnProcess, stackEnv, startFakePostmarkProcess, wipeQueue, withDb,
} from '../lib/email-scenarios.js';
import { ROOT } from '../lib/servers.js';

const BACKENDS = (process.env.BENCH_EMAIL_BACKENDS ?? 'redis,postgres').split(',').map((b) => b.trim()).filter(Boolean);
const emailCount = (quick) => Number(process.env.BENCH_EMAILS) || (quick ? 2_000 : 10_000);
const CONCURRENCY = QUEUE_POLICIES.email.concurrency; // 8
const BASELINE_QUEUE = 'bench-email';

async function measure(ctx, { backend, side, round, n, fake, businessId, prefix }) {
  const queueName = side === 'stack' ? 'email' : BASELINE_QUEUE;
  const queue = openQueue(backend, queueName, { prefix: side === 'stack' ? STACK_PREFIX : prefix });
  await queue.waitUntilReady();
  await wipeQueue(queue);
  await fake.reset();
  // A stack worker alive at a quarter-hour would run the reminders scan (and send reminders) mid-measurement.
  await clearOfCron(ctx, { marginMs: 20_000 + n * 12, afterMs: 30_000 });
  const ids = await withDb((c) => seedQueuedEmails(c, businessId, n));
  const logFile = ctx.logFile(`${backend}-${side}`);
  const t0Boot = performance.now();
  const proc = side === 'stack'
    ? spawnProcess({ name: `stack worker (${backend})`, args: ['--max-semi-space-size=8', 'dist/src/worker.js'], cpu: ctx.pin.server, logFile,
      env: stackEnv(ctx, backend, { APP_ROLE: 'worker', POSTMARK_SERVER_TOKEN: fake.token, POSTMARK_API_BASE: fake.url }) })
    : spawnProcess({ name: `baseline worker (${backend})`, args: [path.join(ROOT, 'bench/baselines/email-worker.js')], cpu: ctx.pin.server, logFile,
      env: { ...process.env, BENCH_DATABASE_URL, BENCH_QUEUE_BACKEND: backend, BENCH_REDIS_URL, BENCH_QUEUE_PREFIX: prefix, BENCH_QUEUE_NAME: queueName,
        BENCH_CONCURRENCY: String(CONCURRENCY), POSTMARK_SERVER_TOKEN: fake.token, POSTMARK_API_BASE: fake.url } });
  try {
    await proc.waitFor(side === 'stack' ? /Ledgerline worker ready/ : /bench email worker ready/, 120_000);
    const bootMs = Math.round(performance.now() - t0Boot);
    const rssAfterBootMb = sampleProcess(proc.pid)().rssMb;
    const options = QUEUE_POLICIES.email.defaultJobOptions;
    const sample = sampleProcess(proc.pid);
    const t0 = await withDb(async (c) => (await c.query('SELECT clock_timestamp() AS t')).rows[0].t);
    const tEnq = performance.now();
    for (let i = 0; i < ids.length; i += 1000) {
      await queue.addBulk(ids.slice(i, i + 1000).map((id) => ({ name: 'email.send', data: { emailId: id }, opts: { ...options, jobId: `email.${id}` } })));
    }
    const enqueueMs = Math.round(performance.now() - tEnq);
    const deadline = Date.now() + Math.max(120_000, n * 20); // 50 emails/s at the very least
    let state;
    for (;;) {
      state = await withDb(async (c) => (await c.query(
        `SELECT count(*) FILTER (WHERE status = 'sent')::int AS sent, count(*) FILTER (WHERE status NOT IN ('queued', 'sending', 'sent'))::int AS other,
                extract(epoch FROM max(sent_at) - $2::timestamptz) * 1000 AS ms FROM emails WHERE business_id = $1`,
        [businessId, t0],
      )).rows[0]);
      if (state.sent + state.other >= n) break;
      if (!proc.alive()) throw new Error(`${proc.name} died; see ${path.relative(ROOT, logFile)}`);
      if (Date.now() > deadline) throw new Error(`${proc.name}: only ${state.sent} of ${n} emails sent after ${Math.round((Date.now() - deadline) / 1000 + Math.max(120, n / 50))} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const s = sample();
    const stats = await fake.stats();
    const seconds = Number(state.ms) / 1000;
    const notOnce = n - stats.distinct + stats.duplicates + state.other;
    const row = {
      side, variant: backend, round, rps: n / seconds, totalRequests: n, seconds: Math.round(seconds * 1000) / 1000, enqueueMs,
      p50Ms: null, p99Ms: null, non2xx: notOnce, errors: 0, accepted: stats.accepted, distinct: stats.distinct, duplicates: stats.duplicates,
      serverCpuPct: s.cpuPct, serverCpuMsPerReq: s.cpuSeconds != null ? Math.round((s.cpuSeconds * 1e6) / n) / 1000 : null, rssMb: s.rssMb, rssMaxMb: s.rssMaxMb, bootMs, rssAfterBootMb,
    };
    say(`[email-throughput/${backend}] ${String(round).padEnd(6)} ${side.padEnd(8)} ${n} emails in ${row.seconds} s = ${Math.round(row.rps)} emails/s (enqueue ${enqueueMs} ms)  worker CPU ${s.cpuPct}% (${row.serverCpuMsPerReq} ms/email)  RSS max ${s.rssMaxMb} MB  accepted ${stats.accepted} (distinct ${stats.distinct}, duplicates ${stats.duplicates}), other states ${state.other}`);
    return row;
  } finally {
    await proc.stop();
    await closeQueue(queue);
  }
}

export default {
  name: 'email-throughput',
  target: ['ratio >= 0.8', 'non2xx == 0', 'baseline.non2xx == 0'],
  rounds: 3,
  quick: { rounds: 1 },

  async run(ctx, { rounds, result }) {
    await prepareDatabase(ctx);
    const n = emailCount(ctx.quick);
    const prefix = `bench-email-${randomBytes(4).toString('hex')}`;
    const businessId = await withDb(emailBusiness);
    const fake = await startFakePostmarkProcess(ctx);
    const rows = [];
    try {
      // Round i runs every backend's baseline/stack pair, so a noisy minute hits them all alike.
      for (let i = 0; i < rounds; i++) {
        for (const backend of BACKENDS) {
          for (const side of ['baseline', 'stack']) rows.push(await measure(ctx, { backend, side, round: i + 1, n, fake, businessId, prefix }));
        }
      }
    } finally {
      await withDb((c) => c.query('DELETE FROM emails WHERE business_id = $1', [businessId])).catch(() => undefined);
      for (const backend of BACKENDS) {
        const q = openQueue(backend, BASELINE_QUEUE, { prefix });
        await wipeQueue(q).catch(() => undefined);
        await closeQueue(q);
      }
      await fake.stop();
    }
    const servers = {};
    for (const backend of BACKENDS) {
      servers[backend] = {};
      for (const side of ['baseline', 'stack']) {
        const rs = rows.filter((r) => r.variant === backend && r.side === side);
        servers[backend][side] = sideFigures(rs, rs.map((r) => r.bootMs), rs.map((r) => r.rssAfterBootMb));
      }
    }
    const variants = BACKENDS.map((b) => ({ name: b, label: `${n.toLocaleString('en-US')} emails, ${b === 'redis' ? 'Redis' : 'PostgreSQL'} backend`, load: { emails: n, concurrency: CONCURRENCY, rounds } }));
    fillResult(result, this, { rows, servers, variants });
    for (const v of result.variants) {
      const rs = rows.filter((r) => r.variant === v.name);
      const fmt = (side, key) => rs.filter((r) => r.side === side).map((r) => r[key]).join(', ');
      ctx.notes.push(`${v.name}: seconds per ${n} emails base [${fmt('baseline', 'seconds')}] / stack [${fmt('stack', 'seconds')}]; worker CPU ms per email base [${fmt('baseline', 'serverCpuMsPerReq')}] / stack [${fmt('stack', 'serverCpuMsPerReq')}]; worker CPU % base [${fmt('baseline', 'serverCpuPct')}] / stack [${fmt('stack', 'serverCpuPct')}]`);
    }
  },
};
