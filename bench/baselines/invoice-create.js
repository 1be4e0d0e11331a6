// Bare baseline for the invoice-create scenario: what POST /v1/invoices minimally has to do.
// Fastify (JSON body) + jsonwebtoken.verify + the app's own pure line arithmetic
// (dist/src/invoices/document-lines.js computeDocument) + one transaction with the stack's
// statements, each a named prepared statement:
//   BEGIN
//   INSERT INTO invoices … RETURNING id              (src/invoices/invoices.repository.ts insert)
//   INSERT INTO invoice_lines … SELECT … unnest(…)    (insertLines: all lines in one statement)
//   SELECT pg_advisory_xact_lock(…)                   (src/audit/audit.service.ts append: the chain lock,
//   SELECT seq, hash FROM audit_events … LIMIT 1       the chain head,
//   INSERT INTO audit_events …                         the hash-chained event, same chainHash)
//   COMMIT
// and a 201 with the invoice's id and totals. What the stack does on top (its hot path):
// the session check, the business's default net days (one SELECT before the transaction), the
// customer check inside it, and reading the created invoice back (findWithLines) for the answer.
// Here the due date defaults to issue date + 30 days (the schema default of default_net_days).
// Env: PORT, JWT_SECRET, BENCH_DATABASE_URL (see invoice-common.js).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { listen, pool, server, todayUtc, unauthorized, UUID_SHAPE, verify } from './invoice-common.js';
import { CHAIN_HEAD, CHAIN_LOCK, INSERT_EVENT, INSERT_INVOICE, INSERT_LINES } from './invoice-sql.js'; // the stack's statements, copied from its source

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dist = (p) => import(pathToFileURL(path.join(ROOT, 'dist/src', p)));
const { computeDocument } = await dist('invoices/document-lines.js');
const { chainHash, GENESIS_HASH } = await dist('audit/audit-chain.js');
const { redact } = await dist('common/logging/redact.js');

const addDays = (date, days) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

const fastify = server();
fastify.post('/v1/invoices', async (request, reply) => {
  const claims = verify(request);
  if (!claims) return unauthorized(reply);
  const body = request.body ?? {};
  if (typeof body.customerId !== 'string' || !UUID_SHAPE.test(body.customerId) || !Array.isArray(body.lines)) return reply.code(400).send({ error: 'invalid_body' });
  let document;
  try {
    document = computeDocument({ currency: body.currency, lines: body.lines, discount: body.discount });
  } catch {
    return reply.code(400).send({ error: 'invalid_document' });
  }
  const businessId = claims.bid.toLowerCase();
  const issueDate = body.issueDate ?? todayUtc();
  const dueDate = body.dueDate ?? addDays(issueDate, 30);
  const userAgent = typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'].slice(0, 512) : null;
  const column = (pick) => document.lines.map(pick);
  const client = await pool.connect();
  let id;
  try {
    await client.query('BEGIN');
    const inserted = await client.query({
      name: 'invoice_insert',
      text: INSERT_INVOICE,
      values: [claims.bid, body.customerId, document.currency, issueDate, dueDate, body.notes ?? null, body.terms ?? null,
        document.documentDiscount.toString(), document.subtotal.toString(), document.discountTotal.toString(), document.taxTotal.toString(), document.total.toString(),
        claims.sub, null],
    });
    id = inserted.rows[0].id;
    await client.query({
      name: 'invoice_lines_insert',
      text: INSERT_LINES,
      values: [id, claims.bid,
        column((_line, index) => index), column((line) => line.description), column((line) => line.quantityText), column((line) => line.unitPrice.toString()),
        column((line) => line.taxRateBps), column((line) => (line.discount - line.documentDiscount).toString()), column((line) => line.subtotal.toString()),
        column((line) => line.discount.toString()), column((line) => line.tax.toString()), column((line) => line.total.toString())],
    });
    // The audit append, as AuditService.append does it for one event.
    await client.query({ name: 'chain_lock', text: CHAIN_LOCK, values: [`audit:${businessId}`] });
    const head = await client.query({ name: 'chain_head', text: CHAIN_HEAD, values: [businessId] });
    const event = {
      businessId, seq: String(BigInt(head.rows[0]?.seq ?? '0') + 1n), occurredAt: new Date(), actorType: 'user', actorId: claims.sub, action: 'invoice.created',
      entityType: 'invoice', entityId: id, ip: request.ip ?? null, userAgent,
      detail: redact({ currency: document.currency, total: Number(document.total), lines: document.lines.length }),
    };
    const prevHash = head.rows[0]?.hash ?? GENESIS_HASH;
    await client.query({
      name: 'chain_insert',
      text: INSERT_EVENT,
      values: [event.businessId, event.seq, event.occurredAt, event.actorType, event.actorId, event.action, event.entityType, event.entityId, event.ip, event.userAgent,
        JSON.stringify(event.detail), prevHash, chainHash(prevHash, event)],
    });
    await client.query('COMMIT');
    client.release();
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(error);
    throw error;
  }
  reply.code(201).header('etag', '"1"');
  return {
    id, status: 'draft', customerId: body.customerId, currency: document.currency, issueDate, dueDate, lines: document.lines.length,
    subtotal: Number(document.subtotal), taxTotal: Number(document.taxTotal), total: Number(document.total), version: 1,
  };
});
listen(fastify);
