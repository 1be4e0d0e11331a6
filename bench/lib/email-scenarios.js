// Shared by the self-timed job scenarios (bench/scenarios/email-throughput.js, overdue-scan.js):
// the dedicated database and Redis, process handling for workers (the worker role has no HTTP
// listener, so these are not run.js "servers"), the fake Postmark process, BullMQ queue handles
// on either backend, seeding (set-based, generate_series), an in-process API latency probe, and
// turning rounds into run.js's metrics/targets.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import bcrypt from 'bcrypt';
import { Queue, createPostgresBackend, withBackend } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { alive, cpuSeconds, httpRequest, pinned, randomLoopbackAddress, rssMb, sleep } from './proc.js';
import { median, metrics, checkTargets, checkDerived, parseDerivedTarget } from './report.js';
import { ensureDatabase, migrate } from './seed-invoices.js';
import { ROOT } from './servers.js';

export const say = (msg) => process.stderr.write(`${msg}\n`);

// A database of their own (never DATABASE_URL, which the invoice scenarios may point elsewhere in
// the same run) and a Redis database index of their own: the stack's queue prefix is fixed
// ("ledgerline"), so a separate index is what keeps its keys apart from anyone else's.
export const BENCH_DATABASE_URL = process.env.BENCH_EMAIL_DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/ledgerline_bench_email';
export const BENCH_REDIS_URL = process.env.BENCH_EMAIL_REDIS_URL?.trim() || 'redis://127.0.0.1:6379/9';
/** The stack's Redis prefix (src/jobs/queue-backend.ts default); the baselines use their own. */
export const STACK_PREFIX = 'ledgerline';

/** Creates and migrates the bench database (idempotent). */
export async function prepareDatabase(ctx) {
  await ensureDatabase(BENCH_DATABASE_URL, (m) => say(`[${ctx.scenario}] ${m}`));
  migrate(BENCH_DATABASE_URL);
  ctx.databaseUrl = BENCH_DATABASE_URL;
}

export async function withDb(fn) {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL, application_name: 'ledgerline-bench-setup' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// ---- processes ----

const children = new Set();
// run.js exits on SIGINT with process.exit(): take our process groups down with it.
process.on('exit', () => {
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/**
 * Spawns a process in its own group, pinned to `cpu`, stdout/stderr appended to `logFile`.
 * Returns { pid, child, waitFor(regex, timeoutMs), write(line), exited, stop() }.
 */
export function spawnProcess({ name, cmd = process.execPath, args, env, cpu, logFile, stdin = false }) {
  const [command, argv] = pinned(cpu, cmd, args);
  const child = spawn(command, argv, { cwd: ROOT, env, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  const log = fs.createWriteStream(logFile, { flags: 'a' });
  const lines = [];
  const waiters = new Set();
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => {
      log.write(`${line}\n`);
      lines.push(line);
      if (lines.length > 2000) lines.splice(0, 1000);
      for (const w of waiters) if (w.regex.test(line)) w.resolve(line);
    });
  }
  let exit = null;
  const exited = new Promise((resolve) => {
    child.on('error', (err) => resolve((exit = { error: err.message })));
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve((exit = { code, signal }));
    });
  });
  const tail = () => lines.slice(-15).join('\n');
  const waitFor = (regex, timeoutMs = 120_000) => {
    const seen = lines.find((l) => regex.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { regex, resolve: (line) => done(() => resolve(line)) };
      const timer = setTimeout(() => done(() => reject(new Error(`${name}: no line matching ${regex} within ${timeoutMs} ms; see ${path.relative(ROOT, logFile)}\n${tail()}`))), timeoutMs);
      exited.then((e) => done(() => reject(new Error(`${name} exited (${JSON.stringify(e)}) before ${regex}; see ${path.relative(ROOT, logFile)}\n${tail()}`))));
      function done(fn) {
        if (!waiters.has(w)) return;
        waiters.delete(w);
        clearTimeout(timer);
        fn();
      }
      waiters.add(w);
    });
  };
  let stopping = null;
  const stop = () =>
    (stopping ??= (async () => {
      if (!exit) {
        child.kill('SIGTERM');
        const outcome = await Promise.race([exited, sleep(30_000).then(() => 'timeout')]);
        if (outcome === 'timeout') {
          say(`! ${name} ignored SIGTERM for 30 s, sending SIGKILL to its group`);
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
          await exited;
        }
      }
      log.end();
      return exit;
    })());
  return { name, pid: child.pid, child, lines, waitFor, write: (line) => child.stdin.write(`${line}\n`), exited, stop, alive: () => !exit && alive(child.pid), logFile };
}

/** The fake Postmark (bench/lib/fake-postmark.js) in its own process, pinned with the load generator. */
export async function startFakePostmarkProcess(ctx) {
  const proc = spawnProcess({ name: 'fake-postmark', args: [path.join(ROOT, 'bench/lib/fake-postmark.js')], env: process.env, cpu: ctx.pin.load, logFile: ctx.logFile('fake-postmark') });
  const line = await proc.waitFor(/^\{"url"/, 10_000);
  const { url, token } = JSON.parse(line);
  return {
    url,
    token,
    pid: proc.pid,
    reset: () => fetch(`${url}/__bench/reset`, { method: 'POST' }).then((r) => r.json()),
    stats: () => fetch(`${url}/__bench/stats`).then((r) => r.json()),
    stop: proc.stop,
  };
}

/** RSS (max, sampled every 200 ms) and CPU of one process over a window. */
export function sampleProcess(pid) {
  const t0 = performance.now();
  const cpu0 = cpuSeconds(pid);
  let rssMax = rssMb(pid) ?? 0;
  const timer = setInterval(() => (rssMax = Math.max(rssMax, rssMb(pid) ?? 0)), 200);
  return () => {
    clearInterval(timer);
    const rss = rssMb(pid);
    rssMax = Math.max(rssMax, rss ?? 0);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(pid);
    return { rssMaxMb: rssMax, rssMb: rss, cpuSeconds: cpu != null && cpu0 != null ? cpu - cpu0 : null, cpuPct: cpu != null && cpu0 != null ? Math.round(((cpu - cpu0) / seconds) * 100) : null };
  };
}

/**
 * Every stack worker runs the reminders cron by itself at :00, :15, :30 and :45 (and queues, once the
 * scan business exists, ~28,000 jobs): never start a measurement within `marginMs` of one, and
 * let a run that just fired finish (`afterMs`).
 */
export async function clearOfCron(ctx, { marginMs = 60_000, afterMs = 30_000 } = {}) {
  const quarter = 15 * 60_000;
  const untilNext = quarter - (Date.now() % quarter);
  const sinceLast = quarter - untilNext;
  let wait = 0;
  if (untilNext < marginMs) wait = untilNext + afterMs;
  else if (sinceLast < afterMs) wait = afterMs - sinceLast;
  if (wait > 0) {
    say(`[${ctx.scenario}] waiting ${Math.round(wait / 1000)} s: the reminders cron fires by itself at the quarter-hour`);
    await sleep(wait);
  }
}

// ---- queues ----

/** A BullMQ Queue on the given backend: Redis (prefix) or BullMQ's PostgreSQL backend in the bench database. */
export function openQueue(backend, name, { prefix } = {}) {
  if (backend === 'postgres') {
    const { Queue: PgQueue } = withBackend(createPostgresBackend);
    const queue = new PgQueue(name, { connection: { connectionString: BENCH_DATABASE_URL, migrate: true, max: 2, application_name: 'ledgerline-bench-setup-queue' } });
    queue.on('error', (err) => say(`! queue ${name}: ${err.message}`));
    return queue;
  }
  const connection = new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection, prefix });
  queue.on('error', (err) => say(`! queue ${name}: ${err.message}`));
  queue.benchConnection = connection;
  return queue;
}

export async function closeQueue(queue) {
  await queue.close();
  queue.benchConnection?.disconnect();
}

/** Removes every job of the queue (pause + obliterate); leaves it paused when `paused`, else running. */
export async function wipeQueue(queue, { paused = false } = {}) {
  await queue.pause();
  await queue.obliterate({ force: true });
  if (paused) await queue.pause();
  else await queue.resume();
}

// ---- rounds → run.js result ----

/**
 * Fills run.js's `result` from self-timed rounds: rows `{ side, variant?, round, rps, p50Ms,
 * p99Ms, non2xx, errors, probe? }` and per side (per variant) process figures. Each group gets
 * metrics (ratio = stack rps ÷ baseline rps, median over pairs) and its targets.
 */
export function fillResult(result, scenario, { rows, servers, variants }) {
  result.rounds = rows.filter((r) => r.round !== 'warmup');
  result.warmup = rows.filter((r) => r.round === 'warmup');
  if (variants) {
    result.variants = variants.map((v) => {
      const m = metrics(result.rounds.filter((r) => r.variant === v.name), servers[v.name]);
      return { name: v.name, label: v.label, load: v.load, metrics: m, targets: checkTargets(scenario.targets, m) };
    });
    result.servers = servers;
  } else {
    result.metrics = metrics(result.rounds, servers);
    result.targets = checkTargets(scenario.targets, result.metrics);
    result.servers = { ...result.servers, ...servers };
  }
}

/** Derived values computed from our own figures (`values` is passed to each `value`). */
export function derive(list, values) {
  for (const d of list) if (d.target !== undefined) parseDerivedTarget(d.target);
  return checkDerived(list, values);
}

/** Per-side process figures for metrics(): boot time, RSS after boot / after the last round / max. */
export function sideFigures(samples, bootMs, rssAfterBootMb) {
  return {
    bootMs: median(bootMs),
    rssAfterBootMb: median(rssAfterBootMb),
    rssAfterLoadMb: samples.at(-1)?.rssMb ?? null,
    rssMaxMb: Math.max(0, ...samples.map((s) => s.rssMaxMb ?? 0)) || null,
  };
}

// ---- seeding ----

const uuidOf = (seedSql, nSql) => `overlay(overlay(md5(${seedSql} || ':' || ${nSql}) placing '4' from 13) placing '8' from 17)::uuid`;

/** A business for the email rows (no invoices, so the reminder scan never selects it). */
export async function emailBusiness(client) {
  const name = 'Bench Email Throughput';
  const found = await client.query('SELECT id FROM businesses WHERE name = $1 ORDER BY created_at LIMIT 1', [name]);
  if (found.rows.length) return found.rows[0].id;
  const { rows: [b] } = await client.query('INSERT INTO businesses (name, require_mfa) VALUES ($1, false) RETURNING id', [name]);
  return b.id;
}

const TEXT_BODY = `Hello,\n\nplease find invoice {n} attached. The amount of 1,234.56 EUR is due in 30 days.\n\nPay online: https://ledgerline.example.test/pay/{n}\n\nThank you for your business.\n`.repeat(3);
const HTML_BODY = `<!doctype html><html><body><p>Hello,</p><p>please find invoice <strong>{n}</strong> attached. The amount of <strong>1,234.56 EUR</strong> is due in 30 days.</p><p><a href="https://ledgerline.example.test/pay/{n}">Pay online</a></p><p>Thank you for your business.</p></body></html>`.repeat(3);

/**
 * Deletes the business's email rows and inserts `n` fresh `queued` ones (template invoice, about
 * 1.5 KB of text and HTML, a distinct recipient each) in one statement. `next_attempt_at` is an
 * hour ahead so the stack's email sweeper never re-queues a row meant for the other side.
 * Returns the ids.
 */
export async function seedQueuedEmails(client, businessId, n) {
  await client.query('DELETE FROM emails WHERE business_id = $1', [businessId]);
  const { rows } = await client.query(
    `INSERT INTO emails (business_id, to_address, template, subject, text_body, html_body, next_attempt_at)
     SELECT $1::uuid, 'customer-' || g || '@example.test', 'invoice', 'Invoice INV-2026-' || lpad(g::text, 7, '0') || ' from Bench Email Throughput',
            replace($2::text, '{n}', 'INV-2026-' || lpad(g::text, 7, '0')), replace($3::text, '{n}', 'INV-2026-' || lpad(g::text, 7, '0')), now() + interval '1 hour'
       FROM generate_series(1, $4::int) g
     RETURNING id`,
    [businessId, TEXT_BODY, HTML_BODY, n],
  );
  await client.query('ANALYZE emails');
  return rows.map((r) => r.id);
}

export const SCAN_STAGES = [0, 4, 8, 12, 16, 20, 24, 28];
export const SCAN_PASSWORD = 'Bench-Scan-5tQ8-seeded'; // a benchmark database's login, not a secret
const SCAN_SEED_VERSION = 1;

export function scanSize(env = process.env) {
  const v = Number(env.BENCH_SCAN_INVOICES);
  return v > 0 ? Math.floor(v) : 1_000_000;
}

/**
 * The overdue-scan business (seeded once, reused): `count` invoices, no lines (the scan does not
 * read them), 1,000 customers with email addresses, one admin (bcrypt password, no MFA).
 *   33 % overdue: open (5 % of all: partially paid), due 1–365 days ago (an even spread)
 *    7 % open, due in 1–30 days
 *    4 % draft, 3 % void, 53 % paid, due dates over six years
 * Reminder settings: stages 0, 4, 8, …, 28 days after the due date (8 stages, the maximum), send
 * hour 00:00 UTC. With the three catch-up days every overdue invoice due in the last 31 days has
 * a stage due now: about 31/365 of the overdue third (~28,000 jobs at 1M). Returns the seed.
 */
export async function ensureScanSeed(ctx, count = scanSize()) {
  const marker = `ledgerline-bench-scan v${SCAN_SEED_VERSION}: ${count} invoices`;
  const email = `bench-scan-owner-${count}@example.test`;
  return withDb(async (client) => {
    await client.query("SELECT pg_advisory_lock(hashtextextended('ledgerline-bench-scan-seed', 0))");
    try {
      const found = await client.query('SELECT b.id, u.id AS user_id FROM users u JOIN memberships m ON m.user_id = u.id JOIN businesses b ON b.id = m.business_id WHERE u.email = $1 AND b.address = $2', [email, marker]);
      if (found.rows.length) {
        say(`[${ctx.scenario}] reusing the scan business (${count.toLocaleString('en-US')} invoices)`);
        return { businessId: found.rows[0].id, userId: found.rows[0].user_id, email, password: SCAN_PASSWORD, count, reused: true };
      }
      const t0 = performance.now();
      const hash = await bcrypt.hash(SCAN_PASSWORD, 12);
      await client.query('BEGIN');
      await client.query('SET LOCAL synchronous_commit = off');
      await client.query("SET LOCAL session_replication_role = 'replica'"); // consistent by construction: no FK trigger per row
      await client.query("SET LOCAL work_mem = '64MB'");
      // A half-seeded business of an older run never exists (one transaction), but an old owner might: rename it away.
      await client.query("UPDATE users SET email = 'old-' || id || '-' || email WHERE email = $1", [email]);
      const { rows: [b] } = await client.query(`INSERT INTO businesses (name, require_mfa, time_zone, address, created_at) VALUES ($1, false, 'UTC', 'seeding', now() - interval '7 years') RETURNING id`, [`Bench Overdue Scan (${count})`]);
      const { rows: [u] } = await client.query(`INSERT INTO users (email, name, password_hash) VALUES ($1, 'Bench Owner', $2) RETURNING id`, [email, hash]);
      await client.query(`INSERT INTO memberships (business_id, user_id, role) VALUES ($1, $2, 'admin')`, [b.id, u.id]);
      await client.query(
        `INSERT INTO customers (id, business_id, name, email, created_at)
         SELECT ${uuidOf("$1::text || ':c'", 'k')}, $1::uuid, 'Bench Customer ' || k, 'billing-' || k || '@customer.example.test', now() - interval '7 years'
           FROM generate_series(1, 1000) k`,
        [b.id],
      );
      await client.query(
        `INSERT INTO invoices (id, business_id, customer_id, status, number, sequence, currency, issue_date, due_date, subtotal, discount_total, tax_total, total,
                               amount_paid, version, created_by, created_at, updated_at, finalized_at, sent_at, last_sent_at, send_count, voided_at, void_reason)
         SELECT s.id, $1::uuid, s.cust, s.status,
                CASE WHEN s.status = 'draft' THEN NULL ELSE 'INV-' || lpad(s.g::text, 7, '0') END,
                CASE WHEN s.status = 'draft' THEN NULL ELSE s.g END,
                'EUR', s.due - 30, s.due, 10000, 0, 2000, 12000,
                CASE s.status WHEN 'paid' THEN 12000 WHEN 'partially_paid' THEN 6000 ELSE 0 END,
                CASE WHEN s.status = 'draft' THEN 1 ELSE 2 END, $2::uuid,
                (s.due - 30)::timestamptz, (s.due - 30)::timestamptz + interval '2 hours',
                CASE WHEN s.status <> 'draft' THEN (s.due - 30)::timestamptz + interval '1 hour' END,
                CASE WHEN s.status <> 'draft' THEN (s.due - 30)::timestamptz + interval '1 hour' END,
                CASE WHEN s.status <> 'draft' THEN (s.due - 30)::timestamptz + interval '1 hour' END,
                CASE WHEN s.status <> 'draft' THEN 1 ELSE 0 END,
                CASE WHEN s.status = 'void' THEN (s.due - 30)::timestamptz + interval '2 hours' END,
                CASE WHEN s.status = 'void' THEN 'Issued in error' END
           FROM (SELECT g, ${uuidOf('$1::text', 'g')} AS id, ${uuidOf("$1::text || ':c'", '(1 + g % 1000)')} AS cust,
                        CASE WHEN r < 5 THEN 'partially_paid' WHEN r < 40 THEN 'open' WHEN r < 44 THEN 'draft' WHEN r < 47 THEN 'void' ELSE 'paid' END AS status,
                        CASE WHEN r < 33 THEN current_date - 1 - (g % 365) WHEN r < 40 THEN current_date + 1 + (g % 30) ELSE current_date - 1 - (g % 2190) END AS due
                   FROM (SELECT g, abs(hashint4(g * 31 + 7)) % 100 AS r FROM generate_series(1, $3::int) g) q) s`,
        [b.id, u.id, count],
      );
      await client.query(`INSERT INTO document_sequences (business_id, kind, last_value) VALUES ($1, 'invoice', $2)`, [b.id, count]);
      await client.query('INSERT INTO reminder_settings (business_id, enabled, stages, send_hour) VALUES ($1, true, $2, 0)', [b.id, SCAN_STAGES]);
      await client.query('UPDATE businesses SET address = $2 WHERE id = $1', [b.id, marker]);
      await client.query('COMMIT');
      const seedMs = performance.now() - t0;
      const t1 = performance.now();
      await client.query('VACUUM (ANALYZE) invoices, customers, businesses, users, memberships, reminder_settings');
      ctx.notes.push(`seeded the scan business: ${count.toLocaleString('en-US')} invoices in ${(seedMs / 1000).toFixed(1)} s, VACUUM (ANALYZE) ${((performance.now() - t1) / 1000).toFixed(1)} s`);
      return { businessId: b.id, userId: u.id, email, password: SCAN_PASSWORD, count, reused: false };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtextextended('ledgerline-bench-scan-seed', 0))").catch(() => undefined);
    }
  });
}

// ---- API ----

/** Logs in with POST /v1/auth/login from a fresh loopback address (rate limited per IP); the access token. */
export async function login(apiUrl, { email, password }) {
  const r = await httpRequest(`${apiUrl}/v1/auth/login`, { method: 'POST', body: { email, password, client: 'mobile' }, localAddress: randomLoopbackAddress() });
  if (r.status !== 200) throw new Error(`login as ${email} failed: ${r.status} ${r.text.slice(0, 300)}`);
  return r.json().accessToken;
}

export const randomSecret = () => randomBytes(48).toString('base64url');

/**
 * A light paced probe in this process: one request every `intervalMs` on kept-alive
 * connections, whatever the answers take (as load.js `intervalMs` does, but open-ended: stop()
 * ends it and resolves to { requests, p50Ms, p99Ms, maxMs, non2xx, errors }).
 */
export function startProbe(url, { headers = {}, intervalMs = 10, timeoutMs = 10_000 } = {}) {
  const agent = new http.Agent({ keepAlive: true });
  const target = new URL(url);
  const latencies = [];
  let non2xx = 0;
  let errors = 0;
  let stopped = false;
  const pending = new Set();
  const t0 = performance.now();
  let sent = 0;
  const one = () => {
    const started = performance.now();
    const p = new Promise((resolve) => {
      const req = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, headers, agent, timeout: timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - started);
          if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
          resolve();
        });
        res.on('error', () => resolve());
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
    pending.add(p);
    p.then(() => pending.delete(p));
  };
  let timer;
  const tick = () => {
    if (stopped) return;
    one();
    sent++;
    timer = setTimeout(tick, Math.max(0, t0 + sent * intervalMs - performance.now()));
  };
  tick();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await Promise.all(pending);
    agent.destroy();
    const sorted = latencies.sort((a, b) => a - b);
    const pct = (p) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] * 10) / 10 : null);
    return { requests: sorted.length, p50Ms: pct(50), p99Ms: pct(99), maxMs: sorted.length ? Math.round(sorted.at(-1) * 10) / 10 : null, non2xx, errors };
  };
}

/** Env for a stack process: run.js's fixed env, our database and (for Redis) our Redis; REDIS_URL removed for the PostgreSQL backend. */
export function stackEnv(ctx, backend, extra = {}) {
  const env = { ...process.env, ...ctx.stackEnv, DATABASE_URL: BENCH_DATABASE_URL, ...extra };
  if (backend === 'redis') env.REDIS_URL = BENCH_REDIS_URL;
  else delete env.REDIS_URL;
  return env;
}
