// Shared by the invoice baselines (invoice-read.js, invoice-list.js, invoice-create.js); not a
// server itself. What a bare implementation of the invoice routes minimally needs: a Fastify
// instance (no logger, no plugins), jsonwebtoken.verify of the Bearer token (HS256 pinned, the
// app's audience and issuer and secret), a pg Pool of the app's size (10) and the app's JSON
// shape of an invoice (the same mapping as src/invoices/invoices.repository.ts invoiceView, so
// setup can check that both servers answer the same body). No session check, no guards, no
// validation pipe, no request log.
// Env: PORT, JWT_SECRET (the stack's), BENCH_DATABASE_URL (the stack's database).
import { createSecretKey } from 'node:crypto';
import Fastify from 'fastify';
import jwt from 'jsonwebtoken';
import pg from 'pg';

const jwtSecret = process.env.JWT_SECRET;
const databaseUrl = process.env.BENCH_DATABASE_URL;
if (!jwtSecret || !databaseUrl) {
  console.error('JWT_SECRET and BENCH_DATABASE_URL are required');
  process.exit(1);
}
// By default the secret is passed as a string, as the app (src/auth/jwt.strategy.ts) and
// bench/baselines/jwt-read.js do. jsonwebtoken 9 then first tries createPublicKey() on it, which
// fails, slowly, on every verify (about 0.27 ms of CPU on the dev VM, OpenSSL 3 trying every
// decoder), before falling back to an HMAC key. BENCH_JWT_KEY_OBJECT=1 passes a KeyObject
// instead (about 5 µs per verify): the cheapest correct verify, for a stricter baseline.
const secret = process.env.BENCH_JWT_KEY_OBJECT === '1' ? createSecretKey(Buffer.from(jwtSecret)) : jwtSecret;

// As src/database/pg-types.ts: a `date` stays the "YYYY-MM-DD" text PostgreSQL sent.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

// Same pool size and connect timeout as src/database/data-source.ts.
export const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30000, application_name: 'ledgerline-bench-baseline' });
pool.on('error', (err) => console.error(`idle pg client error: ${err.message}`)); // e.g. the database stopping first
await pool.query('SELECT 1'); // fail at boot, not under load, if the database is unreachable

const VERIFY = { algorithms: ['HS256'], audience: 'ledgerline-api', issuer: 'ledgerline' };

/** The access token's claims, or null (the caller answers 401). */
export function verify(request) {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return null;
  try {
    const claims = jwt.verify(header.slice(7).trim(), secret, VERIFY);
    return claims.typ === 'access' ? claims : null;
  } catch {
    return null;
  }
}

export const unauthorized = (reply) => reply.code(401).send({ error: 'unauthorized' });

export const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const todayUtc = () => new Date().toISOString().slice(0, 10);
const iso = (value) => (value ? value.toISOString() : null);
const displayQuantity = (text) => (text.includes('.') ? text.replace(/\.?0+$/, '') : text);

function lineView(line) {
  return {
    description: line.description, quantity: displayQuantity(String(line.quantity)), unitPrice: Number(line.unit_price), taxRateBps: line.tax_rate_bps,
    discount: Number(line.discount), subtotal: Number(line.subtotal), discountTotal: Number(line.discount_total), tax: Number(line.tax), total: Number(line.total),
  };
}

/** src/invoices/invoices.repository.ts invoiceView, in plain JS. */
export function invoiceView(row, today = todayUtc()) {
  const total = BigInt(row.total);
  const credited = BigInt(row.credited_total);
  const paid = BigInt(row.amount_paid);
  const overdue = (row.status === 'open' || row.status === 'partially_paid') && row.due_date < today;
  const balance = total - credited - paid;
  return {
    id: row.id, number: row.number, status: row.status, displayStatus: overdue ? 'overdue' : row.status, overdue,
    customerId: row.customer_id, currency: row.currency, issueDate: row.issue_date, dueDate: row.due_date, notes: row.notes, terms: row.terms,
    lines: row.lines.map(lineView),
    discount: Number(row.discount), subtotal: Number(row.subtotal), discountTotal: Number(row.discount_total), taxTotal: Number(row.tax_total),
    total: Number(total), creditedTotal: Number(credited), amountPaid: Number(paid),
    balanceDue: Number(row.status === 'void' ? 0n : row.status === 'draft' ? total : balance > 0n ? balance : 0n),
    version: row.version, createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString(),
    finalizedAt: iso(row.finalized_at), sentAt: iso(row.sent_at), lastSentAt: iso(row.last_sent_at), sendCount: row.send_count,
    viewedAt: iso(row.viewed_at), voidedAt: iso(row.voided_at), voidReason: row.void_reason,
    sourceEstimateId: row.source_estimate_id, recurringInvoiceId: row.recurring_invoice_id,
    ...(row.last_email !== undefined ? { lastEmail: row.last_email } : {}),
  };
}

/** A Fastify instance with GET /health (the orchestrator's readiness path). */
export function server() {
  const fastify = Fastify({ logger: false });
  fastify.get('/health', async () => ({ status: 'ok' }));
  return fastify;
}

export function listen(fastify) {
  // Nothing to flush: exit at once, closing the pool's sockets with the process.
  for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(0));
  fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) || 3000 }).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
