// Bare baseline for the invoice-read scenario: what GET /v1/invoices/:id minimally has to do.
// Fastify + jsonwebtoken.verify + the stack's one statement (src/invoices/invoices.repository.ts
// findWithLinesLoggingView: the invoice, its lines as JSON, and the audit_inbox view event in the
// same round trip) as a named prepared statement, answering the same JSON and ETag.
// Env: PORT, JWT_SECRET, BENCH_DATABASE_URL (see invoice-common.js).
import { invoiceView, listen, pool, server, unauthorized, UUID_SHAPE, verify } from './invoice-common.js';
import { READ } from './invoice-sql.js'; // the stack's statement, copied from its source


const fastify = server();
fastify.get('/v1/invoices/:id', async (request, reply) => {
  const claims = verify(request);
  if (!claims) return unauthorized(reply);
  const { id } = request.params;
  if (!UUID_SHAPE.test(id)) return reply.code(400).send({ error: 'invalid_uuid' });
  const userAgent = request.headers['user-agent'];
  const { rows } = await pool.query({
    name: 'invoice_read',
    text: READ,
    values: [claims.bid, id, claims.bid.toLowerCase(), 'user', claims.sub, 'invoice.viewed', 'invoice', id, request.ip ?? null,
      typeof userAgent === 'string' ? userAgent.slice(0, 512) : null, '{}'],
  });
  if (rows.length === 0) return reply.code(404).send({ error: 'invoice_not_found' });
  reply.header('etag', `"${rows[0].version}"`);
  return invoiceView(rows[0]);
});
listen(fastify);
