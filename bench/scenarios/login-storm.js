// POST /v1/auth/login (bcrypt cost 12, async on libuv's thread pool) from 16 concurrent clients
// through the full stack, versus a bare Fastify route doing one bcrypt.compare of the same
// password (bench/baselines/bcrypt-loop.js). Measures what a login costs beyond the hash itself.
// Alongside every load, a light probe (GET /health every 50 ms) measures how
// responsive the event loop stays while the thread pool is saturated.
//
// The login route is rate limited per client IP (10 / 15 min). Every request comes from its own
// loopback source address (bench/lib/load.js `uniqueSourceAddress`), so the limiter never trips:
// this measures the cost of a login (including the limiter's counter write), not its refusals.
// (X-Forwarded-For + TRUST_PROXY=1 would be the obvious way, but see bench/README.md: the app's
// hop-count TRUST_PROXY has no effect with the installed Fastify 5.12.8: X-Forwarded-For is ignored.)
import { randomBytes } from 'node:crypto';
import { httpRequest, randomLoopbackAddress } from '../lib/proc.js';
import { startBaseline, startStack } from '../lib/servers.js';

const LOGIN = '/v1/auth/login';
const password = (ctx) => (ctx.password ??= `Ledger-${randomBytes(12).toString('base64url')}`);
// Setup's rate-limited calls also come from fresh client addresses, so repeated runs against one
// database within 15 minutes never meet a 429.
const post = (url, body) => httpRequest(url, { method: 'POST', body, localAddress: randomLoopbackAddress() });

export default {
  name: 'login-storm',
  target: ['ratio >= 0.9', 'non2xx == 0', 'probeP99Ms < 20'],
  rounds: 3,
  quick: { rounds: 1, durationSeconds: 3 },
  // Neither server sets UV_THREADPOOL_SIZE: both get whatever the environment says (default 4).
  baseline: { start: (ctx) => startBaseline(ctx, 'bcrypt-loop.js', { env: { BENCH_PASSWORD: password(ctx) } }) },
  stack: { start: (ctx) => startStack(ctx) },

  async setup(ctx, { baseline, stack }) {
    // An owner who never enrolls MFA: login then needs no code (a TOTP code works only once).
    ctx.email = `bench-storm-${randomBytes(6).toString('hex')}@example.test`;
    const signup = await post(`${stack.url}/v1/auth/signup`, { businessName: 'Bench Storm Co', name: 'Bench Owner', email: ctx.email, password: password(ctx), client: 'mobile' });
    if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${signup.text}`);
    for (const [side, srv] of [['stack', stack], ['baseline', baseline]]) {
      const login = await post(srv.url + LOGIN, { email: ctx.email, password: password(ctx), client: 'mobile' });
      if (login.status !== 200) throw new Error(`${side} login check failed: ${login.status} ${login.text}`);
    }
  },

  load: (ctx) => ({
    method: 'POST',
    path: LOGIN,
    body: { email: ctx.email, password: password(ctx), client: 'mobile' },
    connections: 16,
    durationSeconds: 10,
    uniqueSourceAddress: true, // one connection and one client IP per request (bench/lib/load.js)
    timeoutSeconds: 30, // 16 logins share 4 pool threads on one CPU: several seconds each is normal
  }),

  // Up to 16 abandoned logins (~0.3 s of CPU each) still run after a load stops; wait for them,
  // or they would eat into the next load on the other server, pinned to the same CPU.
  settle: { cpuPct: 10, maxSeconds: 30 },

  probe: {
    label: 'health p99 during storm (event-loop delay proxy)',
    method: 'GET',
    path: '/health',
    intervalMs: 50, // one request every 50 ms, evenly spread (bench/lib/load.js), on a kept-alive connection
  },
};
