// Bare baseline for the login-storm scenario: Fastify, JSON body parsing, one async
// bcrypt.compare (libuv thread pool, like the app) of the posted password against a cost-12
// hash of BENCH_PASSWORD, made once at boot. No database, no rate limiter, no session.
// UV_THREADPOOL_SIZE is whatever the environment says, exactly as for the stack.
import bcrypt from 'bcrypt';
import Fastify from 'fastify';

const COST = 12; // src/auth/passwords.ts BCRYPT_COST
const password = process.env.BENCH_PASSWORD;
if (!password) {
  console.error('BENCH_PASSWORD is required');
  process.exit(1);
}
const hash = await bcrypt.hash(password, COST);

const fastify = Fastify({ logger: false });

fastify.get('/health', async () => ({ status: 'ok' }));
fastify.get('/health/ready', async () => ({ status: 'ok' }));
// Same path and body as the app's login, so one load spec drives both servers.
fastify.post('/v1/auth/login', async (request, reply) => {
  const ok = await bcrypt.compare(String(request.body?.password ?? ''), hash);
  if (!ok) return reply.code(401).send({ error: 'invalid_credentials' });
  return { ok: true };
});

fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) || 3000 }).catch((err) => {
  console.error(err);
  process.exit(1);
});
