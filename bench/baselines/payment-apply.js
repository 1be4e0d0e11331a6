// Baseline for bench/scenarios/payment-apply.js: a raw pg loop over the same statements the
// stack's webhooks.process job runs for a `checkout.session.completed` event, at a chosen
// concurrency, with no queue, no Nest, no TypeORM. POST /drain { tag, concurrency } takes every
// event of the batch still 'received' (event ids evt_bench_<tag>_…) and runs `concurrency`
// loops, each taking the next event and doing, as WebhookInbox.process → ProviderEvents →
// PaymentApplication.apply do:
//   UPDATE webhook_events … attempts + 1 … RETURNING payload (the claim)
//   GET /v1/payment_intents/:id?expand[]=latest_charge.balance_transaction on the fake Stripe
//     (keep-alive; outside the transaction, as the stack does)
//   BEGIN; SELECT … FROM invoices … FOR UPDATE; INSERT INTO payments … ON CONFLICT DO NOTHING
//   RETURNING …; the ledger sums; UPDATE invoices (amount paid, status); a customer credit when the
//   overpayment changed; the audit append (advisory lock, chain head, INSERT, the app's own
//   chainHash and redact); the receipt (customer + business, the app's own templates.receipt,
//   INSERT INTO emails); COMMIT
//   queue.add('email.send') (raw BullMQ, prefix ledgerline-bench-baseline: nobody consumes it)
//   UPDATE checkout_sessions (markCheckout); UPDATE webhook_events … 'processed' (finish)
// Each statement is a named prepared statement on a pg Pool of the app's size (10). The pure
// rules (settle, refusal, balanceDue, utcDate, chainHash, redact, formatMoney, templates) are
// imported from the compiled stack in dist/, so both compute the same values.
// Not done: the review request when an invoice becomes paid (the bench invoices never do), a
// retry policy, the email send itself (the stack's email worker sends the receipts it queued).
// Answers { ms, processed, failed, errors: [first few] }.
// Env: PORT, BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_STRIPE_API_BASE, BENCH_STRIPE_SECRET_KEY.
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

const { BENCH_DATABASE_URL: databaseUrl, BENCH_REDIS_URL: redisUrl, BENCH_STRIPE_API_BASE: stripeBase, BENCH_STRIPE_SECRET_KEY: stripeKey } = process.env;
if (!databaseUrl || !redisUrl || !stripeBase || !stripeKey) {
  console.error('BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_STRIPE_API_BASE and BENCH_STRIPE_SECRET_KEY are required');
  process.exit(1);
}
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dist = (p) => import(pathToFileURL(path.join(ROOT, 'dist/src', p)));
const { settle, utcDate, invoiceReferenceFromMetadata } = await dist('payments/payment-rules.js');
const { refusal, balanceDue } = await dist('invoices/invoice-status.js');
const { chainHash, GENESIS_HASH } = await dist('audit/audit-chain.js');
const { redact } = await dist('common/logging/redact.js');
const { formatMoney } = await dist('common/money/money.js');
const { templates } = await dist('notifications/templates.js');

pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value); // as src/database/pg-types.ts
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30000, application_name: 'ledgerline-bench-baseline' });
pool.on('error', (err) => console.error(`idle pg client error: ${err.message}`));
await pool.query('SELECT 1');
const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
connection.on('error', (err) => console.error(`redis: ${err.message}`));
const emailQueue = new Queue('email', { connection, prefix: 'ledgerline-bench-baseline' });
const EMAIL_JOB = { attempts: 4, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: { age: 86400, count: 5000 }, removeOnFail: { age: 14 * 86400 } };
const stripeAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const stripeUrl = new URL(stripeBase);

const PAYMENT_COLUMNS = `id, business_id, invoice_id, provider, provider_payment_id, method, amount, currency, fee, net,
  settlement_currency, received_on, reference, checkout_session_id, payment_intent_id, charge_id, order_id, capture_id,
  balance_transaction_id, payout_id, card_brand, card_last4, recorded_by, created_at`;
// The stack's statements (src/webhooks/webhook-inbox.service.ts, src/payments/payment-application.service.ts,
// src/audit/audit.service.ts, src/notifications/email-outbox.service.ts, src/payments/provider-events.service.ts).
const SQL = {
  claim: `UPDATE webhook_events SET attempts = attempts + 1 WHERE id = $1 AND status = 'received' RETURNING provider, event_id, event_type, payload`,
  lock: `SELECT id, business_id, customer_id, status, number, currency, total, credited_total, amount_paid, version
         FROM invoices WHERE business_id = $1 AND id = $2 FOR UPDATE`,
  insertPayment: `INSERT INTO payments (business_id, invoice_id, provider, provider_payment_id, method, amount, currency, fee, net, settlement_currency, received_on, reference,
                             checkout_session_id, payment_intent_id, charge_id, order_id, capture_id, balance_transaction_id, payout_id, card_brand, card_last4, recorded_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
       ON CONFLICT ON CONSTRAINT payments_provider_payment_key DO NOTHING
       RETURNING ${PAYMENT_COLUMNS}`,
  sums: `SELECT (SELECT coalesce(sum(amount), 0) FROM payments WHERE business_id = $1 AND invoice_id = $2)::text AS paid_in,
              (SELECT coalesce(sum(amount), 0) FROM refunds WHERE business_id = $1 AND invoice_id = $2 AND status = 'succeeded')::text AS refunded,
              (SELECT coalesce(sum(amount), 0) FROM customer_credits WHERE business_id = $1 AND invoice_id = $2)::text AS credit`,
  settleInvoice: 'UPDATE invoices SET amount_paid = $3, status = $4, updated_at = now() WHERE business_id = $1 AND id = $2',
  credit: `INSERT INTO customer_credits (business_id, customer_id, invoice_id, payment_id, amount, currency, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
  chainLock: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
  chainHead: `SELECT seq, hash FROM audit_events
        WHERE business_id = $1
        ORDER BY seq DESC LIMIT 1`,
  chainInsert: `INSERT INTO audit_events
         (business_id, seq, occurred_at, actor_type, actor_id, action, entity_type, entity_id, ip, user_agent, detail, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
  recipient: 'SELECT c.email, c.name, b.name AS business_name FROM customers c JOIN businesses b ON b.id = c.business_id WHERE c.business_id = $1 AND c.id = $2',
  email: `INSERT INTO emails (business_id, to_address, template, subject, text_body, html_body, document_type, document_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
  markCheckout: `UPDATE checkout_sessions SET status = $3, capture_id = coalesce($4, capture_id), updated_at = now()
        WHERE provider = $1 AND provider_session_id = $2 AND status <> 'completed' AND status <> $3`,
  finish: `UPDATE webhook_events SET status = $2, outcome = $3, failure_reason = $4, processed_at = now(),
              business_id = coalesce(business_id, (SELECT b.id FROM businesses b WHERE b.id = $5::uuid))
        WHERE id = $1 AND status = 'received'`,
};
const q = (runner, name, values) => runner.query({ name, text: SQL[name], values });

function getIntent(id) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: stripeUrl.hostname, port: stripeUrl.port, method: 'GET', agent: stripeAgent, timeout: 8000,
      path: `/v1/payment_intents/${encodeURIComponent(id)}?${encodeURIComponent('expand[0]')}=latest_charge.balance_transaction`,
      headers: { authorization: `Bearer ${stripeKey}` },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`stripe ${res.statusCode}: ${text.slice(0, 200)}`))));
    });
    req.on('timeout', () => req.destroy(new Error('stripe timeout')));
    req.on('error', reject);
    req.end();
  });
}

const METHOD_LABELS = { card: 'card' };
// Receipt rows this baseline wrote: marked cancelled after each drain (outside the timing), so the
// stack's email sweeper does not send them later, in the middle of another round.
let sentEmails = [];

async function applyPayment(client, input) {
  const emailIds = [];
  await client.query('BEGIN');
  try {
    const { rows: [invoice] } = await q(client, 'lock', [input.businessId, input.invoiceId]);
    if (!invoice) throw new Error('invoice_not_found');
    const refused = refusal('pay', { status: invoice.status, amountPaid: BigInt(invoice.amount_paid), creditedTotal: BigInt(invoice.credited_total) });
    if (refused) throw new Error(refused);
    if (input.currency !== invoice.currency) throw new Error('currency_mismatch');
    const amount = input.amount === 'balance' ? balanceDue(BigInt(invoice.total), BigInt(invoice.credited_total), BigInt(invoice.amount_paid)) : input.amount;
    const d = input.details;
    const { rows: [payment] } = await q(client, 'insertPayment', [
      input.businessId, input.invoiceId, 'stripe', input.providerPaymentId, input.method, amount.toString(), invoice.currency,
      d.fee?.toString() ?? null, d.net?.toString() ?? null, d.settlementCurrency ?? null, input.receivedOn, null,
      d.checkoutSessionId ?? null, d.paymentIntentId ?? null, d.chargeId ?? null, null, null, d.balanceTransactionId ?? null, null, d.cardBrand ?? null, d.cardLast4 ?? null, null,
    ]);
    if (!payment) {
      await client.query('COMMIT'); // (the stack also back-fills ids on the existing row; duplicates do not occur here)
      return { applied: false };
    }
    const { rows: [sums] } = await q(client, 'sums', [invoice.business_id, invoice.id]);
    const settled = settle({ status: invoice.status, total: BigInt(invoice.total), creditedTotal: BigInt(invoice.credited_total) }, BigInt(sums.paid_in), BigInt(sums.refunded));
    if (settled.amountPaid !== BigInt(invoice.amount_paid) || settled.status !== invoice.status) {
      await q(client, 'settleInvoice', [invoice.business_id, invoice.id, settled.amountPaid.toString(), settled.status]);
    }
    const credit = BigInt(sums.credit);
    if (settled.overpayment !== credit) {
      const delta = settled.overpayment - credit;
      await q(client, 'credit', [invoice.business_id, invoice.customer_id, invoice.id, payment.id, delta.toString(), invoice.currency, delta > 0n ? 'overpayment' : 'overpayment_reduced']);
    }
    // AuditService.record → append, one event.
    const businessId = input.businessId.toLowerCase();
    await q(client, 'chainLock', [`audit:${businessId}`]);
    const { rows: [head] } = await q(client, 'chainHead', [businessId]);
    const event = {
      businessId, seq: String(BigInt(head?.seq ?? '0') + 1n), occurredAt: new Date(), actorType: 'provider', actorId: 'stripe', action: 'invoice.payment_recorded',
      entityType: 'invoice', entityId: input.invoiceId, ip: null, userAgent: null,
      detail: redact({ paymentId: payment.id, provider: 'stripe', method: input.method, amount: Number(amount), currency: invoice.currency, amountPaid: Number(settled.amountPaid), status: settled.status, overpayment: Number(settled.overpayment) }),
    };
    const prevHash = head?.hash ?? GENESIS_HASH;
    await q(client, 'chainInsert', [event.businessId, event.seq, event.occurredAt, event.actorType, event.actorId, event.action, event.entityType, event.entityId, event.ip, event.userAgent,
      JSON.stringify(event.detail), prevHash, chainHash(prevHash, event)]);
    // The receipt row.
    const { rows: [recipient] } = await q(client, 'recipient', [invoice.business_id, invoice.customer_id]);
    if (recipient?.email) {
      const money = (a) => `${formatMoney(a, invoice.currency)} ${invoice.currency}`;
      const owed = BigInt(invoice.total) - BigInt(invoice.credited_total) - settled.amountPaid;
      const content = templates.receipt({
        businessName: recipient.business_name, customerName: recipient.name, number: invoice.number ?? '', amount: money(BigInt(payment.amount)),
        method: METHOD_LABELS[payment.method] ?? payment.method, receivedOn: payment.received_on, balanceDue: money(owed > 0n ? owed : 0n),
        ...(settled.overpayment > 0n ? { credit: money(settled.overpayment) } : {}),
      });
      const { rows: [email] } = await q(client, 'email', [invoice.business_id, recipient.email, 'receipt', content.subject, content.text, content.html, 'invoice', invoice.id]);
      emailIds.push(email.id);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  sentEmails.push(...emailIds);
  await Promise.all(emailIds.map((emailId) => emailQueue.add('email.send', { emailId }, { ...EMAIL_JOB, jobId: `email.${emailId}` })));
  return { applied: true };
}

async function processEvent(id) {
  const { rows: [row] } = await q(pool, 'claim', [id]);
  if (!row) return;
  const session = row.payload?.data?.object ?? {};
  const reference = invoiceReferenceFromMetadata(session.metadata);
  const intent = await getIntent(session.payment_intent);
  const charge = intent.latest_charge;
  const balance = charge.balance_transaction;
  const card = charge.payment_method_details?.card;
  const client = await pool.connect();
  let result;
  try {
    result = await applyPayment(client, {
      businessId: reference.businessId, invoiceId: reference.invoiceId, providerPaymentId: intent.id, method: 'card', amount: BigInt(intent.amount_received), currency: String(intent.currency).toUpperCase(),
      receivedOn: utcDate(charge.created ?? intent.created),
      details: { checkoutSessionId: session.id, paymentIntentId: intent.id, chargeId: charge.id, balanceTransactionId: balance.id, cardBrand: card?.brand ?? null, cardLast4: card?.last4 ?? null,
        fee: BigInt(balance.fee), net: BigInt(balance.net), settlementCurrency: String(balance.currency).toUpperCase() },
    });
    client.release();
  } catch (error) {
    client.release();
    throw error;
  }
  await q(pool, 'markCheckout', ['stripe', session.id, 'completed', null]);
  await q(pool, 'finish', [id, 'processed', result.applied ? 'payment_applied' : 'payment_already_applied', null, reference.businessId]);
}

const fastify = Fastify({ logger: false });
fastify.get('/health', async () => ({ status: 'ok' }));
fastify.post('/drain', async (request) => {
  const { tag, concurrency = 8 } = request.body ?? {};
  if (!/^[0-9a-f]{1,32}$/.test(String(tag))) return { error: 'bad tag' };
  const t0 = performance.now();
  const { rows } = await pool.query(`SELECT id FROM webhook_events WHERE provider = 'stripe' AND event_id > $1 AND event_id < $2 AND status = 'received' ORDER BY event_id`,
    [`evt_bench_${tag}_`, `evt_bench_${tag}_~`]);
  const ids = rows.map((r) => r.id);
  let next = 0;
  let processed = 0;
  const errors = [];
  await Promise.all(Array.from({ length: Math.max(1, Number(concurrency)) }, async () => {
    while (next < ids.length) {
      const id = ids[next++];
      try {
        await processEvent(id);
        processed++;
      } catch (error) {
        errors.push(error.message);
      }
    }
  }));
  const ms = performance.now() - t0;
  const emails = sentEmails;
  sentEmails = [];
  await pool.query(`UPDATE emails SET status = 'cancelled' WHERE id = ANY($1::uuid[]) AND status = 'queued'`, [emails]).catch((error) => errors.push(`cancelling receipts: ${error.message}`));
  return { ms, processed, failed: errors.length, errors: errors.slice(0, 5) };
});

for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(0));
fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) || 3000 }).catch((err) => {
  console.error(err);
  process.exit(1);
});
