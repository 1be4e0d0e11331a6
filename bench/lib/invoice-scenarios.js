// Shared by the invoice scenarios (bench/scenarios/invoice-read.js, invoice-list.js,
// invoice-create.js): servers, the seeded data, a login, and checks of the SQL itself.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { SOURCE_FRAGMENTS } from '../baselines/invoice-sql.js';
import { stackDatabaseUrl } from './database.js';
import { httpRequest, randomLoopbackAddress } from './proc.js';
import { ensureInvoiceSeeds, migrate, seedSizes, tableSizes } from './seed-invoices.js';
import { startBaseline, startStack } from './servers.js';

const say = (msg) => process.stderr.write(`${msg}\n`);

// Explicit, so the baseline can verify the app's tokens; random per run.
const jwtSecret = (ctx) => (ctx.jwtSecret ??= randomBytes(48).toString('base64url'));

/** `stack` / `baseline` / `startOrder` entries for a scenario whose baseline is bench/baselines/<script>. */
export function invoiceServers(script) {
  return {
    startOrder: ['stack', 'baseline'], // the baseline needs the stack's database (embedded, if no DATABASE_URL)
    stack: { start: (ctx) => startStack(ctx, { env: { JWT_SECRET: jwtSecret(ctx) } }) },
    baseline: {
      start: async (ctx) => startBaseline(ctx, script, { env: { JWT_SECRET: jwtSecret(ctx), BENCH_DATABASE_URL: (ctx.databaseUrl = await stackDatabaseUrl(ctx)) } }),
    },
  };
}

/** A request from a fresh loopback client address (login is rate limited per client IP). */
export const call = (url, { method = 'GET', body, token } = {}) =>
  httpRequest(url, { method, body, headers: token ? { authorization: `Bearer ${token}` } : {}, localAddress: randomLoopbackAddress() });

/**
 * Migrates (when the stack uses DATABASE_URL it does not migrate itself), seeds or reuses the
 * invoice data (bench/lib/seed-invoices.js), warns when the baselines' copied SQL no longer
 * matches the compiled stack, and returns the seeds. Notes go to ctx.notes.
 */
export async function prepareInvoices(ctx) {
  const url = ctx.databaseUrl ?? (ctx.databaseUrl = await stackDatabaseUrl(ctx));
  migrate(url);
  const t0 = performance.now();
  const seeds = await ensureInvoiceSeeds(url, { sizes: seedSizes(), log: (m) => say(`[${ctx.scenario}] ${m}`) });
  if (seeds.seedMs) {
    ctx.notes.push(`seeded ${seedSizes().large.toLocaleString('en-US')} + ${seedSizes().small.toLocaleString('en-US')} invoices in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
      `(large ${(seeds.large.ms / 1000).toFixed(1)} s, small ${(seeds.small.ms / 1000).toFixed(1)} s, VACUUM ANALYZE ${(seeds.vacuumMs / 1000).toFixed(1)} s); ${await tableSizes(url)}`);
  }
  // Fresh statistics, as autovacuum would keep them in production: invoice-create grows its
  // business by thousands of invoices a run, and with statistics from when it was empty the
  // planner serves (business_id, id) lookups from a wrong composite index (see README).
  await withDb(ctx, (c) => c.query('ANALYZE invoices, audit_events'));
  for (const missing of sqlDrift(ctx.root)) ctx.notes.push(`**WARNING** the baseline's SQL no longer matches the stack (${missing}): update bench/baselines/invoice-sql.js`);
  return seeds;
}

/** Logs in as a seeded business's owner (no MFA: require_mfa is off there); returns the access token. */
export async function login(stackUrl, seed) {
  const r = await call(`${stackUrl}/v1/auth/login`, { method: 'POST', body: { email: seed.email, password: seed.password, client: 'mobile' } });
  if (r.status !== 200) throw new Error(`login as ${seed.email} failed: ${r.status} ${r.text}`);
  return r.json().accessToken;
}

const squash = (text) => text.replace(/\s+/g, ' ').trim();

/** Fragments of bench/baselines/invoice-sql.js not found (whitespace-insensitive) in the compiled stack. */
export function sqlDrift(root) {
  const missing = [];
  for (const [file, fragments] of Object.entries(SOURCE_FRAGMENTS)) {
    const full = path.join(root, 'dist/src', file);
    const source = fs.existsSync(full) ? squash(fs.readFileSync(full, 'utf8')) : '';
    fragments.forEach((fragment, index) => {
      if (!source.includes(squash(fragment))) missing.push(`${file} fragment ${index + 1}: ${squash(fragment).slice(0, 60)}…`);
    });
  }
  return missing;
}

/** Runs `fn(client)` on a fresh connection to the bench database. */
export async function withDb(ctx, fn) {
  const client = new pg.Client({ connectionString: ctx.databaseUrl, application_name: 'ledgerline-bench-setup' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of a statement with its parameters (in a rolled-back transaction,
 * so a statement that writes leaves nothing behind), summarised: the plan's node chain, indexes
 * used, whether it sorts, scans a table sequentially or uses OFFSET, rows removed by filters,
 * buffers and time.
 */
export async function explain(client, text, values) {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, values);
    const [{ Plan: plan, 'Execution Time': ms, 'Planning Time': planMs }] = rows[0]['QUERY PLAN'];
    const nodes = [];
    const walk = (n, depth) => {
      nodes.push({ ...n, depth });
      for (const c of n.Plans ?? []) walk(c, depth + 1);
    };
    walk(plan, 0);
    const kinds = nodes.map((n) => n['Node Type']);
    const indexes = [...new Set(nodes.filter((n) => n['Index Name']).map((n) => n['Index Name']))];
    const removed = nodes.reduce((sum, n) => sum + (n['Rows Removed by Filter'] ?? 0), 0);
    const chain = nodes.filter((n) => n.depth <= 1 || n['Index Name']).map((n) => n['Node Type'] + (n['Index Name'] ? ` (${n['Index Name']})` : '')).join(' → ');
    return {
      chain,
      indexes,
      sort: kinds.some((k) => /Sort/.test(k)),
      seqScan: kinds.includes('Seq Scan'),
      offset: /\bOFFSET\b/i.test(text),
      rowsRemovedByFilter: removed,
      indexCond: nodes.filter((n) => n['Index Cond']).map((n) => n['Index Cond']),
      sharedHit: plan['Shared Hit Blocks'] ?? 0,
      sharedRead: plan['Shared Read Blocks'] ?? 0,
      rows: plan['Actual Rows'],
      executionMs: ms,
      planningMs: planMs,
    };
  } finally {
    await client.query('ROLLBACK');
  }
}

export const describePlan = (e) =>
  `${e.chain}; ${e.sort ? '**SORTS**' : 'no Sort'}, ${e.seqScan ? '**Seq Scan**' : 'no Seq Scan'}, ${e.offset ? '**OFFSET**' : 'no OFFSET'}` +
  `${e.rowsRemovedByFilter ? `, **${e.rowsRemovedByFilter} rows removed by filter**` : ''}; ${e.rows} rows, buffers hit ${e.sharedHit} read ${e.sharedRead}, ` +
  `planning ${e.planningMs.toFixed(2)} ms, execution ${e.executionMs.toFixed(2)} ms`;
