// Baseline for bench/scenarios/webhook-intake.js: bare Fastify, POST /webhooks/stripe doing the
// minimum a verified intake must do, and nothing else: the raw body as a Buffer, the
// Stripe-Signature check by hand (t= and v1=, HMAC-SHA256 of "<t>.<body>" with the webhook
// secret, constant-time compare, 300 s tolerance both ways), JSON.parse, one
// `INSERT … ON CONFLICT DO NOTHING RETURNING id` into webhook_events (a named prepared statement,
// the raw payload: no redaction) through a pg Pool of the app's size (10) and, for a new row, a raw
// BullMQ `queue.add` with the row id as job id (prefix `ledgerline-bench-baseline`: no worker
// consumes it). Answers { received: true, duplicate }. No Nest, no guards, no request log, no
// Stripe client, no livemode check, no re-queue of a duplicate still waiting.
// Env: PORT, BENCH_DATABASE_URL, BENCH_REDIS_URL, STRIPE_WEBHOOK_SECRET.
import { createHmac, timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

const { BENCH_DATABASE_URL: databaseUrl, BENCH_REDIS_URL: redisUrl, STRIPE_WEBHOOK_SECRET: secret } = process.env;
if (!databaseUrl || !redisUrl || !secret) {
  console.error('BENCH_DATABASE_URL, BENCH_REDIS_URL and STRIPE_WEBHOOK_SECRET are required');
  process.exit(1);
}
const TOLERANCE = 300;
const JOB_OPTIONS = { attempts: 10, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: { age: 86400, count: 10000 }, removeOnFail: { age: 30 * 86400 } };

const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30000, application_name: 'ledgerline-bench-baseline' });
pool.on('error', (err) => console.error(`idle pg client error: ${err.message}`));
await pool.query('SELECT 1');
const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
connection.on('error', (err) => console.error(`redis: ${err.message}`));
const queue = new Queue('webhooks', { connection, prefix: 'ledgerline-bench-baseline' });

const INSERT = {
  name: 'webhook_insert',
  text: `INSERT INTO webhook_events (provider, event_id, event_type, livemode, payload, signature, status)
         VALUES ('stripe', $1, $2, $3, $4, $5, 'received') ON CONFLICT ON CONSTRAINT webhook_events_provider_event_key DO NOTHING RETURNING id`,
};

function verified(raw, header) {
  if (typeof header !== 'string' || raw.length === 0) return false;
  let t;
  const v1 = [];
  for (const item of header.split(',')) {
    const [k, v] = item.split('=');
    if (k === 't') t = Number.parseInt(v, 10);
    else if (k === 'v1' && v) v1.push(v);
  }
  if (!Number.isFinite(t) || Math.abs(Math.floor(Date.now() / 1000) - t) > TOLERANCE) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(raw).digest();
  return v1.some((sig) => {
    const got = Buffer.from(sig, 'hex');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

const fastify = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
fastify.get('/health', async () => ({ status: 'ok' }));
fastify.post('/webhooks/stripe', async (request, reply) => {
  const raw = request.body;
  const header = request.headers['stripe-signature'];
  if (!Buffer.isBuffer(raw) || !verified(raw, header)) return reply.code(400).send({ error: 'webhook_signature_invalid' });
  let event;
  try {
    event = JSON.parse(raw.toString('utf8'));
  } catch {
    return reply.code(400).send({ error: 'not_json' });
  }
  const { rows } = await pool.query({ ...INSERT, values: [String(event.id), String(event.type), typeof event.livemode === 'boolean' ? event.livemode : null, raw.toString('utf8'), header.slice(0, 2000)] });
  if (rows.length > 0) await queue.add('webhooks.process', { eventId: rows[0].id }, { ...JOB_OPTIONS, jobId: `webhook.${rows[0].id}` });
  return { received: true, duplicate: rows.length === 0 };
});

for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(0));
fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) || 3000 }).catch((err) => {
  console.error(err);
  process.exit(1);
});
