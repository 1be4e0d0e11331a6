// Bare baseline for the auth-read scenario: what GET /v1/settings minimally has to do.
// Fastify + jsonwebtoken.verify of the Bearer token (HS256 pinned, same audience/issuer and
// secret as the app) + one named prepared statement through a pg Pool of the app's size (10),
// answering the same JSON. No session check, no guard chain, no logging.
// Env: PORT, JWT_SECRET (the stack's), BENCH_DATABASE_URL (the stack's database).
import Fastify from 'fastify';
import jwt from 'jsonwebtoken';
import pg from 'pg';

const secret = process.env.JWT_SECRET;
const databaseUrl = process.env.BENCH_DATABASE_URL;
if (!secret || !databaseUrl) {
  console.error('JWT_SECRET and BENCH_DATABASE_URL are required');
  process.exit(1);
}

// Same pool size and connect timeout as src/database/data-source.ts.
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30000, application_name: 'ledgerline-bench-baseline' });
pool.on('error', (err) => console.error(`idle pg client error: ${err.message}`)); // e.g. the database stopping first
await pool.query('SELECT 1'); // fail at boot, not under load, if the database is unreachable

const VERIFY = { algorithms: ['HS256'], audience: 'ledgerline-api', issuer: 'ledgerline' };

const fastify = Fastify({ logger: false });

fastify.get('/health', async () => ({ status: 'ok' }));
fastify.get('/v1/settings', async (request, reply) => {
  const header = request.headers.authorization;
  let claims;
  try {
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) throw new Error('no bearer');
    claims = jwt.verify(header.slice(7).trim(), secret, VERIFY);
  } catch {
    return reply.code(401).send({ error: 'unauthorized' });
  }
  const { rows } = await pool.query({
    name: 'settings',
    text: `SELECT name, require_mfa, invoice_number_format, estimate_number_format, credit_note_number_format, default_net_days, address, payment_instructions
             FROM businesses WHERE id = $1`,
    values: [claims.bid],
  });
  if (rows.length === 0) return reply.code(404).send({ error: 'not_found' });
  const row = rows[0];
  return {
    name: row.name,
    requireMfa: row.require_mfa,
    invoiceNumberFormat: row.invoice_number_format,
    estimateNumberFormat: row.estimate_number_format,
    creditNoteNumberFormat: row.credit_note_number_format,
    defaultNetDays: row.default_net_days,
    address: row.address,
    paymentInstructions: row.payment_instructions,
  };
});

// Nothing to flush: exit at once, closing the pool's sockets with the process.
for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(0));

fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) || 3000 }).catch((err) => {
  console.error(err);
  process.exit(1);
});
