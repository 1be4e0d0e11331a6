// Bare baseline for the overdue-scan scenario: what RemindersService.queueDue(now) minimally has
// to do. The stack's two statements (the businesses with unpaid invoices, then per business the
// keyset sweep over invoices_outstanding_due_idx in batches of 1000 with the same predicate),
// copied from src/reminders/reminders.service.ts, through one pg client, and a raw BullMQ
// `addBulk` of the same `reminder.send` jobs (same names, payloads, ids and options) per batch.
// No Nest, no advisory lock, no schedule_runs bookkeeping.
//
// One run per process: it connects, prints "ready", waits for a line on stdin, sweeps, prints
// one JSON line { queued, ms, batches } and exits. The orchestrator times only the sweep.
// Env: BENCH_DATABASE_URL, BENCH_QUEUE_BACKEND (redis | postgres), BENCH_REDIS_URL,
//      BENCH_QUEUE_PREFIX (redis), BENCH_QUEUE_NAME (default scheduled).
import readline from 'node:readline';
import { Queue, createPostgresBackend, withBackend } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { QUEUE_POLICIES } from '../../dist/src/jobs/job-contract.js';
import { CATCH_UP_DAYS, DEFAULT_SEND_HOUR, DEFAULT_STAGES, isValidTimeZone, localClock } from '../../dist/src/reminders/reminder-schedule.js';

const env = process.env;
const databaseUrl = env.BENCH_DATABASE_URL;
if (!databaseUrl) {
  console.error('BENCH_DATABASE_URL is required');
  process.exit(1);
}
const backend = env.BENCH_QUEUE_BACKEND ?? 'redis';
const queueName = env.BENCH_QUEUE_NAME ?? 'scheduled';
const BUSINESS_BATCH = 200;
const INVOICE_BATCH = 1000;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const options = QUEUE_POLICIES.scheduled.defaultJobOptions; // what JobsService.dispatchMany uses

// src/reminders/reminders.service.ts queueDue() and queueDueFor(), verbatim.
const BUSINESSES = `SELECT b.id, b.time_zone, coalesce(s.enabled, true) AS enabled, coalesce(s.stages, $2::int[]) AS stages, coalesce(s.send_hour, $3) AS send_hour
           FROM businesses b LEFT JOIN reminder_settings s ON s.business_id = b.id
          WHERE b.id > $1 AND b.closed_at IS NULL AND coalesce(s.enabled, true)
            AND EXISTS (SELECT 1 FROM invoices i WHERE i.business_id = b.id AND i.status IN ('open', 'partially_paid'))
          ORDER BY b.id LIMIT ${BUSINESS_BATCH}`;
const DUE = `SELECT i.id, i.due_date::text AS due_date, st.stage
           FROM invoices i
           JOIN customers c ON c.business_id = i.business_id AND c.id = i.customer_id
           CROSS JOIN LATERAL (
             SELECT max(s) AS stage FROM unnest($2::int[]) AS s
              WHERE i.due_date + s < $3::date OR (i.due_date + s = $3::date AND $4::int >= $5::int)
           ) st
          WHERE i.business_id = $1 AND i.status IN ('open', 'partially_paid')
            AND i.due_date >= $3::date - ($7::int + $8::int) AND i.due_date <= $3::date - $6::int
            AND (i.due_date, i.id) > ($9::date, $10::uuid)
            AND st.stage IS NOT NULL
            AND i.due_date + st.stage >= $3::date - $8::int
            AND ((i.due_date + st.stage)::timestamp + make_interval(hours => $5::int)) AT TIME ZONE $11 > i.finalized_at
            AND c.email IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM invoice_reminders r WHERE r.invoice_id = i.id AND r.stage = st.stage)
            AND NOT EXISTS (SELECT 1 FROM email_suppressions sp WHERE sp.business_id = i.business_id AND sp.address = lower(trim(c.email)) AND sp.cleared_at IS NULL)
          ORDER BY i.due_date, i.id LIMIT ${INVOICE_BATCH}`;

const client = new pg.Client({ connectionString: databaseUrl, application_name: 'ledgerline-bench-scan' });
await client.connect();
await client.query('SELECT 1');
let queue;
let connection;
if (backend === 'postgres') {
  const { Queue: PgQueue } = withBackend(createPostgresBackend);
  queue = new PgQueue(queueName, { connection: { connectionString: databaseUrl, migrate: true, max: 4, application_name: 'ledgerline-bench-queue' } });
} else {
  connection = new Redis(env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  queue = new Queue(queueName, { connection, prefix: env.BENCH_QUEUE_PREFIX ?? 'bench-scan' });
}
await queue.waitUntilReady();
await queue.getJobCounts('waiting'); // the first round trip, outside the timed sweep
console.log('ready');

await new Promise((resolve) => readline.createInterface({ input: process.stdin }).once('line', resolve));

const t0 = performance.now();
const now = new Date();
let queued = 0;
let batches = 0;
let after = NIL_UUID;
for (;;) {
  const { rows: businesses } = await client.query(BUSINESSES, [after, DEFAULT_STAGES, DEFAULT_SEND_HOUR]);
  for (const business of businesses) {
    if (!isValidTimeZone(business.time_zone)) continue;
    const local = localClock(now, business.time_zone);
    const hour = now.toISOString().slice(0, 13).replace(/\D/g, '');
    const minStage = Math.min(...business.stages);
    const maxStage = Math.max(...business.stages);
    let cursor = { dueDate: '0001-01-01', id: NIL_UUID };
    for (;;) {
      const { rows } = await client.query(DUE, [business.id, business.stages, local.date, local.hour, business.send_hour, minStage, maxStage, CATCH_UP_DAYS, cursor.dueDate, cursor.id, business.time_zone]);
      if (rows.length) {
        await queue.addBulk(rows.map((row) => ({ name: 'reminder.send', data: { invoiceId: row.id, stage: row.stage }, opts: { ...options, jobId: `reminder.${row.id}.${row.stage}.${hour}` } })));
      }
      batches++;
      queued += rows.length;
      if (rows.length < INVOICE_BATCH) break;
      cursor = { dueDate: rows[rows.length - 1].due_date, id: rows[rows.length - 1].id };
    }
  }
  if (businesses.length < BUSINESS_BATCH) break;
  after = businesses[businesses.length - 1].id;
}
const ms = performance.now() - t0;
console.log(JSON.stringify({ queued, batches, ms: Math.round(ms) }));
await queue.close();
connection?.disconnect();
await client.end();
process.exit(0);
