// Bare baseline for the email-throughput scenario: what one `email.send` job minimally has to
// do, on a bare BullMQ Worker with the stack's concurrency for the email queue (8). Per job: the
// stack's claim (UPDATE … queued → sending RETURNING the row, as EmailOutbox.send), one `fetch`
// POST /email to the fake Postmark with the body and headers the official client sends, and the
// stack's finish (UPDATE … sending → sent with the MessageID). No Nest, no suppression or
// invoice-status checks, no retry bookkeeping, no logging.
// Env: BENCH_DATABASE_URL, BENCH_QUEUE_BACKEND (redis | postgres), BENCH_REDIS_URL (redis),
//      BENCH_QUEUE_PREFIX (redis), BENCH_QUEUE_NAME, BENCH_CONCURRENCY (default 8),
//      POSTMARK_API_BASE, POSTMARK_SERVER_TOKEN, EMAIL_FROM (optional).
// Prints "bench email worker ready" once the worker is connected; SIGTERM closes it (running jobs finish).
import { Worker, createPostgresBackend, withBackend } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

const env = process.env;
const databaseUrl = env.BENCH_DATABASE_URL;
const backend = env.BENCH_QUEUE_BACKEND ?? 'redis';
const queueName = env.BENCH_QUEUE_NAME ?? 'email';
const concurrency = Number(env.BENCH_CONCURRENCY ?? 8);
const apiBase = env.POSTMARK_API_BASE;
const token = env.POSTMARK_SERVER_TOKEN;
const from = env.EMAIL_FROM ?? 'Ledgerline <billing@localhost>';
if (!databaseUrl || !apiBase || !token) {
  console.error('BENCH_DATABASE_URL, POSTMARK_API_BASE and POSTMARK_SERVER_TOKEN are required');
  process.exit(1);
}

// The app's pool size (src/database/data-source.ts).
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, application_name: 'ledgerline-bench-email-worker' });
pool.on('error', (err) => console.error(`idle pg client error: ${err.message}`));
await pool.query('SELECT 1');

// The stack's statements (src/notifications/email-outbox.service.ts send() and finish()).
const ROW = 'id, business_id, to_address, template, subject, text_body, html_body, status, attempts, lookup_before_send, document_type, document_id';
const CLAIM = `UPDATE emails SET status = 'sending', sending_at = clock_timestamp(), attempts = attempts + 1 WHERE id = $1 AND status = 'queued' RETURNING ${ROW}`;
const FINISH = `UPDATE emails SET status = $2, provider_message_id = coalesce($3, provider_message_id), sent_at = CASE WHEN $2 IN ('sent', 'captured') THEN now() ELSE sent_at END,
              failed_at = CASE WHEN $2 = 'failed' THEN now() ELSE failed_at END, error_code = $4, last_error = $5, lookup_before_send = false
        WHERE id = $1 AND status = 'sending'`;
const SUPPRESSED = `SELECT id, address, reason, detail, email_id, created_at, '' AS cursor_at FROM email_suppressions WHERE business_id = $1 AND address = $2 AND cleared_at IS NULL`;
const suppressionCheck = env.BENCH_EMAIL_SUPPRESSION_CHECK === '1';
const endpoint = `${apiBase.replace(/\/$/, '')}/email`;
// The official client's default headers (postmark BaseClient).
const headers = { Accept: 'application/json', 'Content-Type': 'application/json', 'X-Postmark-Server-Token': token, 'User-Agent': 'Postmark.JS - bench' };

async function processor(job) {
  const { rows: [email] } = await pool.query(CLAIM, [job.data.emailId]);
  if (!email) return; // sent already
  // Diagnosis only (BENCH_EMAIL_SUPPRESSION_CHECK=1): the stack's extra round trip per email, SuppressionsService.active().
  if (suppressionCheck && email.business_id) await pool.query(SUPPRESSED, [email.business_id, email.to_address.trim().toLowerCase()]);
  const response = await fetch(endpoint, {
    method: 'POST',
    headers,
    signal: AbortSignal.timeout(30_000),
    body: JSON.stringify({
      From: from, To: email.to_address, Subject: email.subject, TextBody: email.text_body, HtmlBody: email.html_body, Tag: email.template,
      MessageStream: 'outbound', TrackOpens: true, TrackLinks: 'HtmlAndText', Metadata: { ledgerline_email_id: email.id },
    }),
  });
  const body = await response.json();
  if (!response.ok || body.ErrorCode) throw new Error(`fake Postmark answered ${response.status} ${body.Message}`);
  await pool.query(FINISH, [email.id, 'sent', body.MessageID, null, null]);
}

let worker;
let connection;
if (backend === 'postgres') {
  const { Worker: PgWorker } = withBackend(createPostgresBackend);
  worker = new PgWorker(queueName, processor, { connection: { connectionString: databaseUrl, migrate: true, max: 4, application_name: 'ledgerline-bench-queue' }, concurrency });
} else {
  connection = new Redis(env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  worker = new Worker(queueName, processor, { connection, prefix: env.BENCH_QUEUE_PREFIX ?? 'bench-email', concurrency });
}
worker.on('error', (err) => console.error(`worker error: ${err.message}`));
worker.on('failed', (job, err) => console.error(`job ${job?.id} failed: ${err.message}`));
await worker.waitUntilReady();
console.log(`bench email worker ready (${backend}, queue ${queueName}, concurrency ${concurrency})`);

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    await worker.close();
    connection?.disconnect();
    await pool.end();
    process.exit(0);
  });
}
