// The overdue-reminder scan (RemindersService.queueDue: per business a keyset sweep over
// invoices_outstanding_due_idx in batches of 1000 and one dispatchMany → addBulk per batch) over
// a business with 1,000,000 invoices, about a third of them overdue (bench/lib/email-scenarios.js
// ensureScanSeed; the reminder settings make ~28,000 of them due now), in the stack's worker
// process (`APP_ROLE=worker`, fired with SIGUSR2, which runs every cron schedule now), versus
// bench/baselines/overdue-scan.js: the same two statements through one pg client plus a raw
// `addBulk` of the same jobs (same names, payloads, ids, options).
//
// The stack's wall time: from the signal to `schedule_runs.last_finished_at` of `reminders.scan`
// (which includes the advisory-lock transaction and the other schedules SIGUSR2 fires alongside).
// The baseline's: from "go" to its last addBulk. rps = jobs queued per second, so
// ratio = baseline wall ÷ stack wall (target >= 0.5: the stack at most 2× the baseline's time).
// Both queues are paused (the stack's `scheduled` queue would otherwise start sending reminders
// during the scan) and wiped before every measurement, so every run queues every job anew.
//
// API latency: an API process (`APP_ROLE=api`, pinned to the other CPU, the same database and
// Redis) answers GET /v1/invoices?limit=20 for the seeded owner (a Bearer token from a real
// login), probed every 10 ms from this process, idle (just before) and during each scan. Target:
// stack p99 during the scan ÷ idle p99 <= 1.5 (median over rounds); the baseline's is reported.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startServer } from '../lib/proc.js';
import {
  BENCH_DATABASE_URL, BENCH_REDIS_URL, STACK_PREFIX, clearOfCron, closeQueue, derive, ensureScanSeed, fillResult, login, openQueue, prepareDatabase, randomSecret,
  sampleProcess, say, sideFigures, spawnProcess, stackEnv, startProbe, wipeQueue, withDb,
} from '../lib/email-scenarios.js';
import { median } from '../lib/report.js';
import { ROOT } from '../lib/servers.js';

const BACKEND = process.env.BENCH_SCAN_BACKEND === 'postgres' ? 'postgres' : 'redis';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function queuedCount(queue) {
  const c = await queue.getJobCounts('paused', 'waiting', 'prioritized', 'delayed');
  return Object.values(c).reduce((a, b) => a + b, 0);
}

export default {
  name: 'overdue-scan',
  target: ['ratio >= 0.5', 'rssMaxMb <= 300'],
  rounds: 3,
  quick: { rounds: 1 },

  async run(ctx, { rounds, result }) {
    await prepareDatabase(ctx);
    const seed = await ensureScanSeed(ctx);
    await withDb(async (c) => {
      await c.query('DELETE FROM invoice_reminders WHERE business_id = $1', [seed.businessId]);
      await c.query('ANALYZE invoices');
    });
    const prefix = `bench-scan-${randomBytes(4).toString('hex')}`;
    const jwt = randomSecret();
    const api = await startServer({
      name: 'overdue-scan/api', cmd: process.execPath, args: ['--max-semi-space-size=8', 'dist/src/main.js'], cwd: ROOT, cpu: ctx.pin.load,
      env: stackEnv(ctx, BACKEND, { APP_ROLE: 'api', JWT_SECRET: jwt }), readyPath: '/health/ready', readyTimeoutMs: 120_000, logFile: ctx.logFile('api'),
    });
    const worker = spawnProcess({ name: 'stack worker', args: ['--max-semi-space-size=8', 'dist/src/worker.js'], cpu: ctx.pin.server, logFile: ctx.logFile('stack'),
      env: stackEnv(ctx, BACKEND, { APP_ROLE: 'worker', JWT_SECRET: jwt }) });
    const stackQueue = openQueue(BACKEND, 'scheduled', { prefix: STACK_PREFIX });
    const baseQueue = openQueue(BACKEND, 'scheduled', { prefix });
    const rows = [];
    const baseSamples = [];
    const stackSamples = [];
    let workerBootMs;
    let workerRssBoot;
    try {
      const t0 = performance.now();
      await stackQueue.waitUntilReady();
      await wipeQueue(stackQueue, { paused: true }); // before the worker takes anything
      await worker.waitFor(/Ledgerline worker ready/, 120_000);
      workerBootMs = Math.round(performance.now() - t0);
      workerRssBoot = sampleProcess(worker.pid)().rssMb;
      const token = await login(api.url, seed);
      const probeUrl = `${api.url}/v1/invoices?limit=20`;
      const headers = { authorization: `Bearer ${token}` };
      const check = await fetch(probeUrl, { headers });
      if (check.status !== 200) throw new Error(`probe GET /v1/invoices answered ${check.status}: ${(await check.text()).slice(0, 300)}`);
      const idleSeconds = ctx.quick ? 2 : 4;

      const measureSide = async (side, round) => {
        const queue = side === 'stack' ? stackQueue : baseQueue;
        await wipeQueue(queue, { paused: true });
        await clearOfCron(ctx, { marginMs: 60_000, afterMs: 30_000 });
        const idle = await (async () => {
          const stop = startProbe(probeUrl, { headers });
          await sleep(idleSeconds * 1000);
          return stop();
        })();
        let ms;
        let queued;
        let appMs = null;
        let sample;
        let probe;
        if (side === 'baseline') {
          const proc = spawnProcess({ name: 'baseline scan', args: [path.join(ROOT, 'bench/baselines/overdue-scan.js')], cpu: ctx.pin.server, logFile: ctx.logFile('baseline'), stdin: true,
            env: { ...process.env, BENCH_DATABASE_URL, BENCH_QUEUE_BACKEND: BACKEND, BENCH_REDIS_URL, BENCH_QUEUE_PREFIX: prefix, BENCH_QUEUE_NAME: 'scheduled' } });
          try {
            await proc.waitFor(/^ready$/, 30_000);
            const stopProbe = startProbe(probeUrl, { headers });
            const stopSample = sampleProcess(proc.pid);
            proc.write('go');
            const line = await proc.waitFor(/^\{"queued"/, 600_000);
            sample = stopSample();
            probe = await stopProbe();
            ({ queued, ms } = JSON.parse(line));
            await proc.exited;
          } finally {
            await proc.stop();
          }
        } else {
          const before = await withDb(async (c) => (await c.query("SELECT runs FROM schedule_runs WHERE name = 'reminders.scan'")).rows[0]?.runs ?? '0');
          const stopProbe = startProbe(probeUrl, { headers });
          const stopSample = sampleProcess(worker.pid);
          const signalled = Date.now();
          process.kill(worker.pid, 'SIGUSR2');
          let run;
          for (;;) {
            run = await withDb(async (c) => (await c.query(
              "SELECT runs, last_outcome, last_queued, extract(epoch FROM last_started_at) * 1000 AS started, extract(epoch FROM last_finished_at) * 1000 AS finished, last_error FROM schedule_runs WHERE name = 'reminders.scan'",
            )).rows[0]);
            if (run && BigInt(run.runs) > BigInt(before)) break;
            if (!worker.alive()) throw new Error(`the stack worker died; see ${path.relative(ROOT, worker.logFile)}`);
            if (Date.now() - signalled > 600_000) throw new Error('reminders.scan did not finish within 600 s of SIGUSR2');
            await sleep(50);
          }
          sample = stopSample();
          probe = await stopProbe();
          if (run.last_outcome !== 'ok') throw new Error(`reminders.scan failed: ${run.last_error}`);
          queued = run.last_queued;
          ms = Math.round(Number(run.finished) - signalled);
          appMs = Math.round(Number(run.finished) - Number(run.started));
        }
        const inQueue = await queuedCount(queue);
        (side === 'stack' ? stackSamples : baseSamples).push(sample);
        const row = {
          side, round, rps: queued / (ms / 1000), totalRequests: queued, wallMs: ms, appMs, inQueue, p50Ms: null, p99Ms: null, non2xx: inQueue === queued ? 0 : Math.abs(inQueue - queued), errors: 0,
          serverCpuPct: sample.cpuPct, rssMb: sample.rssMb, rssMaxMb: sample.rssMaxMb, probe, idleProbe: idle,
        };
        say(`[overdue-scan] ${String(round).padEnd(6)} ${side.padEnd(8)} ${queued} jobs in ${ms} ms${appMs != null ? ` (scan itself ${appMs} ms)` : ''}  in queue ${inQueue}  CPU ${sample.cpuPct}%  RSS max ${sample.rssMaxMb} MB  ` +
          `API p99 idle ${idle.p99Ms} ms → during ${probe.p99Ms} ms (p50 ${idle.p50Ms} → ${probe.p50Ms}, max ${probe.maxMs}, ${probe.requests} probes, non-2xx ${probe.non2xx + idle.non2xx}, errors ${probe.errors + idle.errors})`);
        return row;
      };

      for (let i = -1; i < rounds; i++) {
        const round = i < 0 ? 'warmup' : i + 1;
        rows.push(await measureSide('baseline', round));
        rows.push(await measureSide('stack', round));
      }
    } finally {
      await wipeQueue(baseQueue).catch(() => undefined);
      await wipeQueue(stackQueue).catch(() => undefined);
      await closeQueue(baseQueue);
      await closeQueue(stackQueue);
      await worker.stop();
      await api.stop();
    }

    const measured = rows.filter((r) => r.round !== 'warmup');
    const servers = {
      baseline: sideFigures(baseSamples, [], []),
      stack: { ...sideFigures(stackSamples, [workerBootMs], [workerRssBoot]) },
    };
    result.probe = { label: 'API GET /v1/invoices?limit=20 (every 10 ms) during the scan' };
    fillResult(result, this, { rows, servers });
    const ratioOf = (side) => median(measured.filter((r) => r.side === side).map((r) => (r.probe.p99Ms && r.idleProbe.p99Ms ? r.probe.p99Ms / r.idleProbe.p99Ms : null)));
    const wall = (side) => median(measured.filter((r) => r.side === side).map((r) => r.wallMs));
    result.derived = derive([
      { label: 'stack scan wall time ÷ baseline wall time (median ms)', value: () => wall('stack') / wall('baseline'), target: '<= 2' },
      { label: 'stack: API p99 during the scan ÷ idle p99 (median over rounds)', value: () => ratioOf('stack'), target: '<= 1.5' },
      { label: 'baseline: API p99 during the sweep ÷ idle p99 (median over rounds)', value: () => ratioOf('baseline') },
    ], {});
    const list = (side, key) => measured.filter((r) => r.side === side).map((r) => r[key]).join(', ');
    ctx.notes.push(`backend ${BACKEND}; ${seed.count.toLocaleString('en-US')} invoices; jobs queued base [${list('baseline', 'totalRequests')}] / stack [${list('stack', 'totalRequests')}]; ` +
      `wall ms base [${list('baseline', 'wallMs')}] / stack [${list('stack', 'wallMs')}] (stack scan itself, started→finished: [${list('stack', 'appMs')}]); ` +
      `API p99 idle → during: base [${measured.filter((r) => r.side === 'baseline').map((r) => `${r.idleProbe.p99Ms}→${r.probe.p99Ms}`).join(', ')}] / stack [${measured.filter((r) => r.side === 'stack').map((r) => `${r.idleProbe.p99Ms}→${r.probe.p99Ms}`).join(', ')}] ms`);
    if (measured.some((r) => r.side === 'stack' && r.totalRequests !== measured.find((b) => b.side === 'baseline' && b.round === r.round)?.totalRequests)) {
      ctx.notes.push('**the stack and the baseline queued different numbers of jobs in a round**');
    }
  },
};
