// Bare baseline for the invoice-list scenario: what GET /v1/invoices?limit=N[&cursor=…] minimally
// has to do for the default sort (-createdAt). Fastify + jsonwebtoken.verify + the stack's keyset
// SELECT (src/invoices/invoices.service.ts list: limit + 1 rows, (created_at, id) row comparison
// after a cursor, no OFFSET, no COUNT) as a named prepared statement, and the same page JSON
// (data + nextCursor, base64url JSON ["-createdAt", created_at::text, id] as
// src/common/pagination/cursor.ts makes it).
// Env: PORT, JWT_SECRET, BENCH_DATABASE_URL (see invoice-common.js).
import { invoiceView, listen, pool, server, todayUtc, unauthorized, UUID_SHAPE, verify } from './invoice-common.js';
import { LIST_AFTER, LIST_FIRST } from './invoice-sql.js'; // the stack's statements, copied from its source

const SORT = '-createdAt';
const SORT_KEY_SHAPE = /^\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?[+-]\d{2}(?::\d{2})?)?$/; // as invoices.service.ts

function decodeCursor(cursor) {
  if (typeof cursor !== 'string' || cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== SORT || !parsed.slice(1).every((p) => typeof p === 'string' && p.length <= 100)) return null;
    const [, value, id] = parsed;
    return UUID_SHAPE.test(id) && SORT_KEY_SHAPE.test(value) ? [value, id] : null;
  } catch {
    return null;
  }
}
const encodeCursor = (key) => Buffer.from(JSON.stringify([SORT, ...key]), 'utf8').toString('base64url');

const fastify = server();
fastify.get('/v1/invoices', async (request, reply) => {
  const claims = verify(request);
  if (!claims) return unauthorized(reply);
  const { limit: rawLimit, cursor, sort } = request.query;
  const limit = rawLimit === undefined ? 50 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200 || (sort !== undefined && sort !== SORT)) return reply.code(400).send({ error: 'invalid_query' });
  let query;
  if (cursor === undefined) query = { name: `list_first_${limit}`, text: LIST_FIRST(limit), values: [claims.bid] };
  else {
    const key = decodeCursor(cursor);
    if (!key) return reply.code(400).send({ error: 'invalid_cursor' });
    query = { name: `list_after_${limit}`, text: LIST_AFTER(limit), values: [claims.bid, key[0], key[1]] };
  }
  const { rows } = await pool.query(query);
  const today = todayUtc();
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return {
    data: kept.map((row) => {
      const summary = invoiceView({ ...row, lines: [] }, today);
      delete summary.lines;
      delete summary.notes;
      delete summary.terms;
      return summary;
    }),
    nextCursor: more ? encodeCursor([kept[kept.length - 1].sort_key, kept[kept.length - 1].id]) : null,
  };
});
listen(fastify);
