// Bare Fastify baseline: the cheapest possible answer to GET /health, no logger, no plugins.
// /health/ready exists only so this script can also stand in for the stack (BENCH_STACK_CMD).
import Fastify from 'fastify';

const fastify = Fastify({ logger: false });

fastify.get('/health', async () => ({ status: 'ok' }));
fastify.get('/health/ready', async () => ({ status: 'ok' }));

fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) || 3000 }).catch((err) => {
  console.error(err);
  process.exit(1);
});
