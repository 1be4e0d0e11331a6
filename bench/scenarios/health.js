// GET /health through the full stack (Nest + Fastify adapter + global middleware/guards/logging)
// versus a bare Fastify route returning the same JSON.
import { startBaseline, startStack } from '../lib/servers.js';

export default {
  name: 'health',
  target: ['ratio >= 0.75', 'rssAfterBootMb <= 150'],
  rounds: 3,
  quick: { rounds: 1, durationSeconds: 3 },
  baseline: { start: (ctx) => startBaseline(ctx, 'hello.js') },
  stack: { start: (ctx) => startStack(ctx) },
  load: { method: 'GET', path: '/health', connections: 100, pipelining: 10, durationSeconds: 10 },
  // setup: async (ctx, { baseline, stack }) => {},  // seed data / log in before the loads
  // teardown: async (ctx, { baseline, stack }) => {},
};
