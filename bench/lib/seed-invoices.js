#!/usr/bin/env node
// Set-based seed data for the invoice scenarios (bench/scenarios/invoice-*.js).
//
//   node bench/lib/seed-invoices.js [--database-url URL] [--reseed] [--large N] [--small N]
//
// Seeds, with generate_series (no row-by-row inserts), three businesses, each with one admin
// (bcrypt password, no MFA, require_mfa = false so the owner can log in with a password alone)
// and one customer:
//   large:  BENCH_INVOICES_LARGE invoices (default 1,000,000)
//   small:  BENCH_INVOICES_SMALL invoices (default 10,000)
//   create: no invoices (invoice-create writes here, so the other two keep their size)
// Every invoice has 2 or 3 lines whose amounts add up to the invoice totals, a status that fits
// its age (old ones mostly paid, a few void or overdue; recent ones draft/open/partially paid),
// numbers INV-YYYY-nnnnnnn for finalised ones, and created_at spread evenly (with jitter, in
// microseconds) over the last six years, so keyset pages are real pages of a long history.
// Afterwards VACUUM (ANALYZE) the tables, so plans see real statistics and the first measured
// request does not pay for setting hint bits on a million fresh rows.
//
// A business is reused when it exists and carries its completion marker (written in the same
// transaction as its rows, so an interrupted seed leaves nothing behind): reruns cost a query.
// --reseed (or BENCH_RESEED=1) deletes the seeded businesses' rows first (audit events stay:
// audit_events is append-only) and seeds again.
//
// Foreign keys are not re-checked row by row while seeding (session_replication_role = replica
// for the seeding transaction, when allowed): the rows are consistent by construction, and
// 1M invoices + 2.5M lines would otherwise fire about 8 million RI trigger checks.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcrypt';
import pg from 'pg';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
export const DEFAULT_BENCH_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/ledgerline_bench';
export const SEED_PASSWORD = 'Bench-Invoices-8fQ2-seeded'; // a benchmark database's login, not a secret
const SEED_VERSION = 1;
const MARKER = (count) => `ledgerline-bench-seed v${SEED_VERSION}: ${count} invoices`;

export function seedSizes(env = process.env) {
  const num = (v, d) => (v && Number(v) >= 0 ? Math.floor(Number(v)) : d);
  return { large: num(env.BENCH_INVOICES_LARGE, 1_000_000), small: num(env.BENCH_INVOICES_SMALL, 10_000), create: 0 };
}

const emailFor = (kind, count) => `bench-invoices-${kind}-${count}@example.test`;

// A v4-shaped uuid derived from (business, n): deterministic, spread like random ids.
const ID_EXPR = (biz, n) => `overlay(overlay(md5(${biz}::text || ':' || ${n}) placing '4' from 13) placing '8' from 17)::uuid`;

// One line's values as SQL expressions of g (invoice number) and k (line position).
const LINE = {
  qty: '(1 + (g + k) % 4)',
  price: '(1000 + abs(hashint4(g * 8 + k)) % 99000)::bigint',
  bps: "(ARRAY[0, 700, 1900, 2000])[1 + (g * 3 + k) % 4]",
  description: "(ARRAY['Boiler service', 'Call-out fee', 'Replacement parts', 'Labour (per hour)', 'Materials', 'Travel'])[1 + (g + 2 * k) % 6]",
};
LINE.subtotal = `(${LINE.qty} * ${LINE.price})`;
LINE.tax = `round(${LINE.subtotal} * ${LINE.bps} / 10000.0)::bigint`;
const LINE_COUNT = '(2 + g % 2)'; // 2 or 3 lines, 2.5 on average

/**
 * Seeds (or reuses) one business with `count` invoices. `client` is a pg client (not in a
 * transaction). Returns { kind, count, businessId, userId, customerId, email, password, reused, ms }.
 */
export async function seedBusiness(client, { kind, count, reseed = false, log = () => {} }) {
  const email = emailFor(kind, count);
  const marker = MARKER(count);
  const found = await client.query('SELECT b.id AS business_id, u.id AS user_id, b.address FROM users u JOIN memberships m ON m.user_id = u.id JOIN businesses b ON b.id = m.business_id WHERE u.email = $1', [email]);
  if (found.rows.length && found.rows[0].address === marker && !reseed) {
    const { business_id: businessId, user_id: userId } = found.rows[0];
    const customer = await client.query('SELECT id FROM customers WHERE business_id = $1 ORDER BY created_at LIMIT 1', [businessId]);
    return { kind, count, businessId, userId, customerId: customer.rows[0].id, email, password: SEED_PASSWORD, reused: true, ms: 0 };
  }
  if (found.rows.length) await removeBusiness(client, found.rows[0].business_id, found.rows[0].user_id, log);

  const t0 = performance.now();
  const passwordHash = await bcrypt.hash(SEED_PASSWORD, 12); // src/auth/passwords.ts BCRYPT_COST
  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL synchronous_commit = off');
    await client.query("SET LOCAL session_replication_role = 'replica'").catch(async () => {
      await client.query('ROLLBACK');
      await client.query('BEGIN'); // not a superuser: seed with foreign-key checks (slower)
    });
    await client.query("SET LOCAL work_mem = '64MB'");
    const years = 6;
    const { rows: [biz] } = await client.query(
      `INSERT INTO businesses (name, require_mfa, created_at, address) VALUES ($1, false, now() - make_interval(years => $2 + 1), $3) RETURNING id`,
      [`Bench Invoices ${kind} (${count})`, years, 'seeding'],
    );
    const businessId = biz.id;
    const { rows: [user] } = await client.query(
      `INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, 'Bench Owner', $2, now() - make_interval(years => $3 + 1)) RETURNING id`,
      [email, passwordHash, years],
    );
    await client.query(`INSERT INTO memberships (business_id, user_id, role) VALUES ($1, $2, 'admin')`, [businessId, user.id]);
    const { rows: [customer] } = await client.query(
      `INSERT INTO customers (business_id, name, email, created_at) VALUES ($1, 'Bench Customer Ltd', 'accounts@customer.example.test', now() - make_interval(years => $2 + 1)) RETURNING id`,
      [businessId, years],
    );
    let invoicesMs = 0;
    let linesMs = 0;
    if (count > 0) {
      // created_at: invoice g sits in its own slot of span/count, at a pseudo-random offset
      // inside the slot, so created_at grows strictly with g and keeps microseconds.
      const t1 = performance.now();
      await client.query(
        `INSERT INTO invoices (id, business_id, customer_id, status, number, sequence, currency, issue_date, due_date, notes, terms,
                               discount, subtotal, discount_total, tax_total, total, amount_paid, credited_total, version, created_by,
                               created_at, updated_at, finalized_at, sent_at, last_sent_at, send_count, viewed_at, voided_at, void_reason)
         SELECT s.id, $1::uuid, $2::uuid, s.status,
                CASE WHEN s.status = 'draft' THEN NULL ELSE 'INV-' || to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY') || '-' || lpad(s.g::text, 7, '0') END,
                CASE WHEN s.status = 'draft' THEN NULL ELSE s.g END,
                'EUR', (s.created_at AT TIME ZONE 'UTC')::date, (s.created_at AT TIME ZONE 'UTC')::date + s.net_days,
                CASE WHEN s.g % 7 = 0 THEN 'Thank you for your business.' END,
                CASE WHEN s.g % 10 = 0 THEN 'Payment within ' || s.net_days || ' days.' END,
                0, t.subtotal, 0, t.tax, t.subtotal + t.tax,
                CASE s.status WHEN 'paid' THEN t.subtotal + t.tax WHEN 'partially_paid' THEN (t.subtotal + t.tax) / 2 ELSE 0 END,
                0, CASE WHEN s.status = 'draft' THEN 1 WHEN s.status = 'void' THEN 3 ELSE 2 END, $3::uuid,
                s.created_at, s.created_at + interval '2 hours',
                CASE WHEN s.status <> 'draft' THEN s.created_at + interval '1 hour' END,
                CASE WHEN s.status <> 'draft' THEN s.created_at + interval '1 hour' END,
                CASE WHEN s.status <> 'draft' THEN s.created_at + interval '1 hour' END,
                CASE WHEN s.status <> 'draft' THEN 1 ELSE 0 END,
                CASE WHEN s.status IN ('paid', 'partially_paid') THEN s.created_at + interval '1 day' END,
                CASE WHEN s.status = 'void' THEN s.created_at + interval '2 hours' END,
                CASE WHEN s.status = 'void' THEN 'Issued in error' END
           FROM (SELECT g, id, created_at, (ARRAY[14, 30, 30, 45])[1 + g % 4] AS net_days,
                        CASE WHEN created_at > now() - interval '60 days' THEN
                               CASE WHEN r < 25 THEN 'draft' WHEN r < 75 THEN 'open' WHEN r < 85 THEN 'partially_paid' ELSE 'paid' END
                             ELSE CASE WHEN r < 3 THEN 'void' WHEN r < 6 THEN 'open' WHEN r < 9 THEN 'partially_paid' ELSE 'paid' END
                        END AS status
                   FROM (SELECT g, ${ID_EXPR('$1::uuid', 'g')} AS id, abs(hashint4(g * 31 + 7)) % 100 AS r,
                                $4::timestamptz + ((g - 1) * $5::bigint + abs(hashint4(g)) % $5::bigint) * interval '1 microsecond' AS created_at
                           FROM generate_series(1, $6::int) g) q) s
           CROSS JOIN LATERAL (SELECT sum(${LINE.subtotal})::bigint AS subtotal, sum(${LINE.tax})::bigint AS tax
                                 FROM generate_series(0, ${LINE_COUNT} - 1) k) t`,
        [businessId, customer.id, user.id, ...(await spanStart(client, years, count)), count],
      );
      invoicesMs = performance.now() - t1;
      const t2 = performance.now();
      await client.query(
        `INSERT INTO invoice_lines (invoice_id, position, business_id, description, quantity, unit_price, tax_rate_bps, discount, subtotal, discount_total, tax, total)
         SELECT ${ID_EXPR('$1::uuid', 'g')}, k, $1::uuid, ${LINE.description}, ${LINE.qty}, ${LINE.price}, ${LINE.bps}, 0, ${LINE.subtotal}, 0, ${LINE.tax}, ${LINE.subtotal} + ${LINE.tax}
           FROM generate_series(1, $2::int) g CROSS JOIN LATERAL generate_series(0, ${LINE_COUNT} - 1) k`,
        [businessId, count],
      );
      linesMs = performance.now() - t2;
      await client.query(`INSERT INTO document_sequences (business_id, kind, last_value) VALUES ($1, 'invoice', $2)`, [businessId, count]);
    }
    await client.query('UPDATE businesses SET address = $2 WHERE id = $1', [businessId, marker]); // the completion marker
    const t3 = performance.now();
    await client.query('COMMIT');
    const commitMs = performance.now() - t3;
    const ms = performance.now() - t0;
    log(`seeded ${kind}: ${count.toLocaleString('en-US')} invoices in ${(ms / 1000).toFixed(1)} s (invoices ${(invoicesMs / 1000).toFixed(1)} s, lines ${(linesMs / 1000).toFixed(1)} s, commit ${(commitMs / 1000).toFixed(1)} s)`);
    return { kind, count, businessId, userId: user.id, customerId: customer.id, email, password: SEED_PASSWORD, reused: false, ms: Math.round(ms), invoicesMs: Math.round(invoicesMs), linesMs: Math.round(linesMs) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** [start of the six-year span, microseconds per invoice slot]. */
async function spanStart(client, years, count) {
  const { rows: [r] } = await client.query(
    `SELECT now() - make_interval(years => $1) AS start, floor(extract(epoch FROM (now() - interval '1 hour') - (now() - make_interval(years => $1))) * 1e6 / $2)::bigint AS step`,
    [years, count],
  );
  return [r.start, String(r.step)];
}

/** Deletes a seeded business and what hangs off it (its audit events stay: append-only). */
async function removeBusiness(client, businessId, userId, log) {
  const t0 = performance.now();
  await client.query('BEGIN');
  try {
    await client.query("SET LOCAL session_replication_role = 'replica'").catch(async () => {
      await client.query('ROLLBACK');
      await client.query('BEGIN');
    });
    const byBusiness = ['invoice_lines', 'invoice_versions', 'credit_notes', 'invoices', 'estimate_lines', 'estimates', 'recurring_invoices', 'customers',
      'document_sequences', 'idempotency_keys', 'emails', 'invitations', 'audit_inbox'];
    await client.query('DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE business_id = $1 OR user_id = $2)', [businessId, userId]);
    await client.query('DELETE FROM sessions WHERE business_id = $1 OR user_id = $2', [businessId, userId]);
    await client.query('DELETE FROM memberships WHERE business_id = $1 OR user_id = $2', [businessId, userId]);
    for (const table of byBusiness) await client.query(`DELETE FROM ${table} WHERE business_id = $1`, [businessId]);
    await client.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
    await client.query('DELETE FROM password_resets WHERE user_id = $1', [userId]);
    await client.query('DELETE FROM users WHERE id = $1', [userId]);
    await client.query('DELETE FROM businesses WHERE id = $1', [businessId]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  log(`removed the old seed business ${businessId} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Creates the database named in `url` if it does not exist (connects to `postgres` to do so). */
export async function ensureDatabase(url, log = () => {}) {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const c = new pg.Client({ connectionString: admin.toString() });
  await c.connect();
  try {
    const { rows } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rows.length === 0) {
      await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      log(`created database ${name}`);
    }
  } finally {
    await c.end();
  }
}

/** Applies pending migrations with the app's own CLI (dist/src/database/cli.js). */
export function migrate(url, log = () => {}) {
  const cli = path.join(ROOT, 'dist/src/database/cli.js');
  if (!fs.existsSync(cli)) throw new Error('dist/src/database/cli.js is missing: run `npx nest build` first');
  const r = spawnSync(process.execPath, [cli, 'run'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`migrations failed: ${r.stderr || r.stdout}`);
  log(`migrations: ${r.stdout.trim()}`);
}

/**
 * Makes sure the three seeded businesses exist (seeding what is missing), under an advisory lock
 * so two runs never seed at once. Returns { large, small, create, seedMs, vacuumMs }.
 */
export async function ensureInvoiceSeeds(url, { reseed = process.env.BENCH_RESEED === '1', sizes = seedSizes(), log = () => {} } = {}) {
  const client = new pg.Client({ connectionString: url, application_name: 'ledgerline-bench-seed' });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtextextended('ledgerline-bench-seed', 0))");
    const out = {};
    let seeded = false;
    for (const kind of ['large', 'small', 'create']) {
      out[kind] = await seedBusiness(client, { kind, count: sizes[kind], reseed, log });
      if (!out[kind].reused) seeded = true;
    }
    out.seedMs = out.large.ms + out.small.ms + out.create.ms;
    out.vacuumMs = 0;
    if (seeded) {
      const t0 = performance.now();
      await client.query('VACUUM (ANALYZE) invoices, invoice_lines, customers, businesses, users, memberships, document_sequences');
      out.vacuumMs = Math.round(performance.now() - t0);
      log(`VACUUM (ANALYZE) in ${(out.vacuumMs / 1000).toFixed(1)} s`);
    } else {
      log(`reusing seeded businesses (${sizes.large.toLocaleString('en-US')} / ${sizes.small.toLocaleString('en-US')} invoices); --reseed or BENCH_RESEED=1 to seed again`);
    }
    return out;
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtextextended('ledgerline-bench-seed', 0))").catch(() => undefined);
    await client.end();
  }
}

/** `n` invoice ids of a seeded business, evenly spread over its whole history (oldest to newest). */
export async function sampleInvoiceIds(client, seed, n) {
  const { rows } = await client.query(
    `SELECT i.id FROM generate_series(1, $2::int) j
       CROSS JOIN LATERAL (SELECT ${ID_EXPR('$1::uuid', 'greatest(1, (j::bigint * $3::int / ($2::int + 1)))::int')} AS id) x
       JOIN invoices i ON i.business_id = $1::uuid AND i.id = x.id
      ORDER BY j`,
    [seed.businessId, n, seed.count],
  );
  return rows.map((r) => r.id);
}

/** SQL size of the bench tables, for the log. */
export async function tableSizes(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) AS total FROM pg_class WHERE relname IN ('invoices', 'invoice_lines', 'audit_events', 'audit_inbox') ORDER BY relname`,
    );
    const { rows: [db] } = await client.query('SELECT pg_size_pretty(pg_database_size(current_database())) AS size');
    return `${rows.map((r) => `${r.relname} ${r.total}`).join(', ')}; database ${db.size}`;
  } finally {
    await client.end();
  }
}

async function main() {
  const argv = process.argv.slice(2);
  let url = process.env.DATABASE_URL?.trim() || DEFAULT_BENCH_DATABASE_URL;
  let reseed = process.env.BENCH_RESEED === '1';
  const env = { ...process.env };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--database-url') url = argv[++i];
    else if (argv[i] === '--reseed') reseed = true;
    else if (argv[i] === '--large') env.BENCH_INVOICES_LARGE = argv[++i];
    else if (argv[i] === '--small') env.BENCH_INVOICES_SMALL = argv[++i];
    else {
      console.error('usage: node bench/lib/seed-invoices.js [--database-url URL] [--reseed] [--large N] [--small N]');
      process.exit(2);
    }
  }
  const log = (m) => console.error(m);
  await ensureDatabase(url, log);
  migrate(url, log);
  const t0 = performance.now();
  const out = await ensureInvoiceSeeds(url, { reseed, sizes: seedSizes(env), log });
  log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s; ${await tableSizes(url)}`);
  console.log(JSON.stringify({ large: out.large.businessId, small: out.small.businessId, create: out.create.businessId, seedMs: out.seedMs, vacuumMs: out.vacuumMs }));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error.stack ?? String(error));
    process.exit(1);
  });
}
