#!/usr/bin/env node
// Benchmark orchestrator: for each scenario, start its baseline and stack servers once,
// warm both up, then alternate measured loads (baseline, stack, baseline, stack, ...) with
// autocannon in a separate, pinned process. Writes bench/results/<timestamp>.json and prints
// a markdown table. Exit code is 0 unless something crashed; missed targets are only reported.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pinning, pinned, rssMb, alive, cpuSeconds, dbBackendCpu, dbCpuDelta, stopAll, waitIdle } from './lib/proc.js';
import { median, metrics, parseTarget, parseDerivedTarget, checkTargets, checkDerived, table, probeNotes, derivedNotes } from './lib/report.js';
import { ROOT } from './lib/servers.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));

const HELP = `Usage: node bench/run.js [options]
  --quick            one short pair per scenario (3 s loads, 2 s warm-up)
  --no-build         skip "npx nest build" (use the existing dist/)
  --no-pin           do not pin server / load generator to CPUs with taskset
  --scenario a,b     run only these scenarios (names as in bench/scenarios/*.js)
  --rounds N         measured pairs per scenario (default 3, quick 1)
  --duration S       seconds per measured load (default from the scenario, quick 3)
  --warmup S         seconds of warm-up load per server (default 3, quick 2)
  -h, --help         this text
Env: BENCH_STACK_CMD="node bench/baselines/hello.js" replaces the stack command (debugging aid).`;

function parseArgs(argv) {
  const o = { quick: false, build: true, pin: true, scenarios: null, rounds: null, duration: null, warmup: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!(v > 0)) throw usage(`${a} needs a positive number`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--no-build') o.build = false;
    else if (a === '--no-pin') o.pin = false;
    else if (a === '--scenario') o.scenarios = String(argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--rounds') o.rounds = num();
    else if (a === '--duration') o.duration = num();
    else if (a === '--warmup') o.warmup = num();
    else if (a === '-h' || a === '--help') o.help = true;
    else throw usage(`unknown option ${a}\n\n${HELP}`);
  }
  return o;
}

const say = (msg) => process.stderr.write(`${msg}\n`); // progress on stderr, the report on stdout
const usage = (msg) => Object.assign(new Error(msg), { usage: true });

async function loadScenarios(only) {
  const dir = path.join(BENCH, 'scenarios');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.js')).sort();
  const all = await Promise.all(files.map(async (f) => ({ ...(await import(pathToFileURL(path.join(dir, f)))).default })));
  for (const s of all) {
    if (!s.name || (!s.run && (!s.baseline?.start || !s.stack?.start || !(s.load || s.variants?.length)))) throw new Error(`scenario ${s.name ?? '?'} is missing name/baseline/stack/load (or variants)`);
    s.targets = [].concat(s.target ?? []).map(parseTarget);
    // Variants: several loads measured on the same two servers, interleaved round by round.
    for (const v of s.variants ?? []) {
      if (!v.name || !v.load) throw new Error(`scenario ${s.name}: every variant needs a name and a load`);
      v.targets = [...s.targets, ...[].concat(v.target ?? []).map(parseTarget)];
    }
    for (const d of s.derived ?? []) if (d.target !== undefined) parseDerivedTarget(d.target); // fail early on a typo
  }
  if (!only) return all;
  const unknown = only.filter((n) => !all.some((s) => s.name === n));
  if (unknown.length) throw usage(`unknown scenario(s): ${unknown.join(', ')}; have: ${all.map((s) => s.name).join(', ')}`);
  return all.filter((s) => only.includes(s.name));
}

/** Run one autocannon load in its own (pinned) process; resolves to a per-round summary. */
const loads = new Set();
function runLoad(ctx, url, spec, durationSeconds) {
  // A load spec may bring its own measurement (payment scenarios: signed webhooks, draining queued jobs); it resolves to the same row fields.
  if (typeof spec.run === 'function') return spec.run({ ctx, url, durationSeconds, side: url === ctx.servers.stack?.url ? 'stack' : 'baseline' });
  const args = JSON.stringify({ ...spec, url: url + (spec.path ?? '/'), durationSeconds });
  const [cmd, argv] = pinned(ctx.pin.load, process.execPath, [path.join(BENCH, 'lib/load.js'), args]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    loads.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      loads.delete(child);
      if (code !== 0) return reject(new Error(`load generator exited ${code ?? signal}: ${err.trim()}`));
      const r = JSON.parse(out);
      resolve({
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
      });
    });
  });
}

async function runScenario(s, opts, run) {
  const rounds = opts.rounds ?? (opts.quick ? s.quick?.rounds ?? 1 : s.rounds ?? 3);
  const warmup = opts.warmup ?? s.warmupSeconds ?? (opts.quick ? 2 : 3);
  const ctx = {
    ...run.ctx,
    scenario: s.name,
    logFile: (side) => path.join(run.resultsDir, `${run.id}-${s.name}-${side}.log`),
    notes: [], // a scenario's findings (e.g. seed time, EXPLAIN summaries): printed under the table, kept in the JSON
  };
  // Keys listed up front so the JSON reads summary first, raw rounds last.
  const result = { name: s.name, target: s.targets.map((t) => t.expr), error: undefined, metrics: undefined, targets: undefined, variants: undefined, derived: undefined, load: undefined, probe: undefined, servers: {}, warmup: [], rounds: [] };
  // A self-timed scenario (`run` instead of servers + load: email-throughput, overdue-scan; see
  // bench/lib/email-scenarios.js) starts its own processes, times its own baseline/stack rounds and fills `result`.
  if (typeof s.run === 'function') {
    try {
      await s.run(ctx, { rounds, warmup, result });
    } catch (err) {
      result.error = err.message;
      if (!interrupted) say(`[${s.name}] CRASHED: ${err.stack}`);
    }
    if (ctx.notes.length) result.notes = ctx.notes;
    return result;
  }
  const servers = {};
  ctx.servers = servers; // lets a later start() see an earlier server (e.g. the stack's embedded database)
  // Default: baseline first, then stack. A scenario may set `startOrder`; servers stop in reverse order.
  const order = s.startOrder ?? ['baseline', 'stack'];
  try {
    for (const side of order) {
      say(`[${s.name}] starting ${side}...`);
      const t0 = performance.now();
      const srv = await s[side].start(ctx);
      servers[side] = srv;
      result.servers[side] = {
        pid: srv.pid,
        bootMs: Math.round(performance.now() - t0),
        rssAfterBootMb: rssMb(srv.pid),
        logFile: srv.logFile && path.relative(ROOT, srv.logFile),
      };
      say(`[${s.name}] ${side} ready at ${srv.url} (pid ${srv.pid}) in ${result.servers[side].bootMs} ms, RSS ${result.servers[side].rssAfterBootMb} MB`);
    }
    await s.setup?.(ctx, servers);
    const durationOf = (spec) => opts.duration ?? (opts.quick ? s.quick?.durationSeconds ?? 3 : spec.durationSeconds ?? 10);
    // A plain scenario is one unnamed variant; a scenario with `variants` measures each of them
    // on the same servers, interleaved: round i runs every variant's baseline/stack pair.
    const variants = [];
    for (const v of s.variants ?? [{ name: null, load: s.load, targets: s.targets }]) {
      const spec = typeof v.load === 'function' ? await v.load(ctx, servers) : v.load;
      variants.push({ name: v.name, label: v.label, targets: v.targets, spec, duration: durationOf(spec) });
    }
    if (!s.variants) result.load = { ...variants[0].spec, durationSeconds: variants[0].duration, warmupSeconds: warmup, rounds };
    // Optional light second load against the same server during every load (e.g. GET /health at a fixed rate).
    const probe = typeof s.probe === 'function' ? await s.probe(ctx, servers) : s.probe;
    if (probe) result.probe = probe;

    const measure = async (side, i, v) => {
      const srv = servers[side];
      const seconds = i < 0 ? warmup : v.duration;
      const cpu0 = cpuSeconds(srv.pid);
      // A scenario that sets ctx.databaseUrl (a local database) also gets its backends' CPU per round.
      const dbName = ctx.databaseUrl && /^(127\.|localhost$|\[::1\]$)/.test(new URL(ctx.databaseUrl).hostname) ? decodeURIComponent(new URL(ctx.databaseUrl).pathname.slice(1)) : null;
      const db0 = dbBackendCpu(dbName);
      // The server's RSS, sampled during the load (the table's "RSS max").
      let rssMax = rssMb(srv.pid) ?? 0;
      const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssMb(srv.pid) ?? 0)), 200);
      let r, p;
      try {
        [r, p] = await Promise.all([runLoad(ctx, srv.url, v.spec, seconds), probe ? runLoad(ctx, srv.url, probe, seconds) : null]);
      } finally {
        clearInterval(sampler);
      }
      if (!alive(srv.pid)) throw new Error(`${side} server (pid ${srv.pid}) died during the load; see ${path.relative(ROOT, srv.logFile)}`);
      const row = { side, ...(v.name && { variant: v.name }), round: i < 0 ? 'warmup' : i + 1, ...r, serverCpuPct: Math.round(((cpuSeconds(srv.pid) - cpu0) / seconds) * 100), rssMb: rssMb(srv.pid) };
      row.rssMaxMb = Math.max(rssMax, row.rssMb ?? 0);
      const served = r.totalRequests || null;
      row.serverCpuMsPerReq = served && Math.round(((cpuSeconds(srv.pid) - cpu0) * 1e6) / served) / 1000;
      if (dbName) {
        const dbCpu = dbCpuDelta(db0, dbBackendCpu(dbName));
        row.dbCpuPct = Math.round((dbCpu / seconds) * 100);
        row.dbCpuMsPerReq = served && Math.round((dbCpu * 1e6) / served) / 1000;
      }
      result.servers[side].rssMaxMb = Math.max(result.servers[side].rssMaxMb ?? 0, row.rssMaxMb);
      if (p) row.probe = { requests: p.totalRequests, p50Ms: p.p50Ms, p99Ms: p.p99Ms, maxMs: p.maxMs, non2xx: p.non2xx, errors: p.errors, timeouts: p.timeouts };
      if (i === rounds - 1 && v === variants.at(-1)) result.servers[side].rssAfterLoadMb = row.rssMb; // right after its last load
      const probeText = p ? `  probe p99 ${p.p99Ms} ms (max ${p.maxMs}, ${p.totalRequests} req)` : '';
      const tag = v.name ? `${s.name}/${v.name}` : s.name;
      say(`[${tag}] ${String(row.round).padEnd(6)} ${side.padEnd(8)} ${Math.round(r.rps)} req/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  non-2xx ${r.non2xx}  server CPU ${row.serverCpuPct}%  load CPU ${r.loadCpuPct}%  RSS max ${row.rssMaxMb} MB${dbName ? `  DB CPU ${row.dbCpuPct}%  CPU/req server ${row.serverCpuMsPerReq} ms + DB ${row.dbCpuMsPerReq} ms` : ''}${probeText}`);
      // Optional: let the server finish abandoned work (e.g. a bcrypt backlog) before the next load.
      if (s.settle) row.settleMs = await waitIdle(srv.pid, s.settle === true ? {} : s.settle);
      return row;
    };
    for (const v of variants) result.warmup.push(await measure('baseline', -1, v), await measure('stack', -1, v));
    for (let i = 0; i < rounds; i++) {
      for (const v of variants) {
        result.rounds.push(await measure('baseline', i, v));
        result.rounds.push(await measure('stack', i, v));
      }
    }
    await s.teardown?.(ctx, servers);
    if (!s.variants) {
      result.metrics = metrics(result.rounds, result.servers);
      result.targets = checkTargets(s.targets, result.metrics);
    } else {
      result.variants = variants.map((v) => {
        const m = metrics(result.rounds.filter((r) => r.variant === v.name), result.servers);
        return { name: v.name, label: v.label, load: { ...v.spec, durationSeconds: v.duration, warmupSeconds: warmup, rounds }, metrics: m, targets: checkTargets(v.targets, m) };
      });
    }
    // Derived checks across variants, e.g. p50 at 1M invoices ÷ p50 at 10k invoices <= 1.5.
    if (s.derived) {
      const byVariant = Object.fromEntries((result.variants ?? [{ name: null, metrics: result.metrics }]).map((v) => [v.name, v.metrics]));
      result.derived = checkDerived(s.derived, byVariant);
    }
    if (ctx.notes.length) result.notes = ctx.notes;
  } catch (err) {
    if (ctx.notes.length) result.notes = ctx.notes;
    result.error = err.message;
    if (!interrupted) say(`[${s.name}] CRASHED: ${err.stack}`);
  } finally {
    for (const side of [...order].reverse()) {
      if (!servers[side]) continue;
      const exit = await servers[side].stop();
      result.servers[side].exit = exit;
    }
  }
  return result;
}

function gitCommit() {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) return void console.log(HELP);
  const scenarios = await loadScenarios(opts.scenarios);
  const resultsDir = path.join(BENCH, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const startedAt = new Date();
  const id = startedAt.toISOString().replace(/[:.]/g, '-');
  const file = path.join(resultsDir, `${id}.json`);
  const pin = pinning(opts.pin);
  if (pin.server == null) say('! not pinning CPUs (--no-pin, no taskset, or < 2 CPUs): numbers are noisier');

  if (opts.build && !process.env.BENCH_STACK_CMD) {
    say('building: npx nest build');
    const b = spawnSync('npx', ['nest', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
    if (b.status !== 0) throw new Error(`npx nest build failed (exit ${b.status})`);
  }

  // Fixed env for the stack, so runs are comparable; everything else (DATABASE_URL, ...) passes through.
  const stackEnv = { LOG_LEVEL: 'info', NODE_ENV: 'development', APP_ROLE: 'all' };
  const run = {
    id,
    resultsDir,
    ctx: { root: ROOT, resultsDir, quick: opts.quick, pin, stackEnv },
  };
  const report = {
    startedAt: startedAt.toISOString(),
    options: opts,
    machine: { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, totalMemMb: Math.round(os.totalmem() / 2 ** 20) },
    git: gitCommit(),
    pinning: pin,
    stack: {
      command: process.env.BENCH_STACK_CMD ?? 'node dist/src/main.js',
      env: stackEnv,
      externalDatabase: Boolean(process.env.DATABASE_URL),
      externalRedis: Boolean(process.env.REDIS_URL),
    },
    scenarios: [],
  };
  for (const s of scenarios) {
    const result = await runScenario(s, opts, run);
    if (interrupted) return;
    report.scenarios.push(result);
    fs.writeFileSync(file, JSON.stringify(report, null, 2)); // after each scenario, so a later crash keeps earlier data
  }
  report.finishedAt = new Date().toISOString();
  fs.writeFileSync(file, JSON.stringify(report, null, 2));

  const mode = opts.quick ? 'quick' : 'full';
  const where = pin.server == null ? 'unpinned' : `server CPU ${pin.server}, load generator CPU ${pin.load}`;
  console.log(`## Ledgerline bench (${mode}, ${startedAt.toISOString()}, ${where}, node ${process.version})\n`);
  console.log(table(report.scenarios));
  const notes = probeNotes(report.scenarios);
  if (notes) console.log(`\n${notes}`);
  const derived = derivedNotes(report.scenarios);
  if (derived) console.log(`\n${derived}`);
  const findings = report.scenarios.flatMap((s) => [...cpuNotes(s), ...(s.notes ?? [])].map((n) => `> ${s.name}: ${n}`));
  if (findings.length) console.log(`\n${findings.join('\n')}`);
  for (const s of report.scenarios) {
    const bound = s.rounds.filter((r) => r.loadCpuPct >= 95 && r.serverCpuPct < 90);
    if (bound.length) console.log(`\n> ${s.name}: the load generator was saturated (>= 95 % CPU) while the server was not in ${bound.length} round(s); those req/s measure autocannon, not the server.`);
  }
  if (process.env.BENCH_STACK_CMD) console.log(`\n_stack replaced by BENCH_STACK_CMD="${process.env.BENCH_STACK_CMD}"_`);
  console.log(`\nResults: ${path.relative(ROOT, file)}`);
  if (report.scenarios.some((s) => s.error)) process.exitCode = 1;
}

/** "CPU per request" lines (server and database), from the rounds that measured the database. */
function cpuNotes(s) {
  const groups = s.variants ? s.variants.map((v) => [v.label ?? v.name, s.rounds.filter((r) => r.variant === v.name)]) : [[null, s.rounds]];
  return groups.flatMap(([label, rounds]) => {
    if (!rounds.some((r) => r.dbCpuMsPerReq != null)) return [];
    const side = (name) => {
      const rs = rounds.filter((r) => r.side === name);
      const app = median(rs.map((r) => r.serverCpuMsPerReq));
      const db = median(rs.map((r) => r.dbCpuMsPerReq));
      return `${name} ${app?.toFixed(2)} ms server + ${db?.toFixed(2)} ms database`;
    };
    return [`CPU per request${label ? ` (${label})` : ''} (medians over rounds): ${side('baseline')}; ${side('stack')}`];
  });
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    if (interrupted) return;
    interrupted = true;
    say(`\n${sig}: stopping servers...`);
    for (const l of loads) l.kill('SIGTERM');
    await stopAll();
    process.exit(130);
  });
}

main().catch(async (err) => {
  say(err.usage ? err.message : err.stack ?? String(err));
  await stopAll();
  process.exit(1);
});
