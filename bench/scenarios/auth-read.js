// GET /v1/settings with a Bearer token through the full stack (passport-jwt, the session check
// query, roles/MFA guard, one SELECT), versus bench/baselines/jwt-read.js: bare Fastify +
// jsonwebtoken.verify + the same SELECT as a named prepared statement via pg. Both verify the
// same real access token issued by the app, and both read the same database.
//
// Database: DATABASE_URL when set (both servers use it); otherwise the stack's embedded
// PostgreSQL, found from the stack's "embedded PostgreSQL started" log line and the password file
// in LEDGERLINE_DATA_DIR (default .data). So the stack starts first here.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stackDatabaseUrl } from '../lib/database.js';
import { httpRequest, randomLoopbackAddress } from '../lib/proc.js';
import { startBaseline, startStack } from '../lib/servers.js';

const SETTINGS = '/v1/settings';
// Explicit, so the baseline can verify the app's tokens; random per run.
const jwtSecret = (ctx) => (ctx.jwtSecret ??= randomBytes(48).toString('base64url'));
// Setup's rate-limited calls (signup, MFA enable) come from fresh loopback client addresses, so
// repeated runs against one database within 15 minutes never meet a 429.
const call = (url, { method = 'GET', body, token } = {}) =>
  httpRequest(url, { method, body, headers: token ? { authorization: `Bearer ${token}` } : {}, localAddress: randomLoopbackAddress() });

export default {
  name: 'auth-read',
  target: ['ratio >= 0.6', 'non2xx == 0'],
  rounds: 3,
  quick: { rounds: 1, durationSeconds: 3 },
  startOrder: ['stack', 'baseline'], // the baseline needs the stack's database
  stack: { start: (ctx) => startStack(ctx, { env: { JWT_SECRET: jwtSecret(ctx) } }) },
  baseline: {
    start: async (ctx) => startBaseline(ctx, 'jwt-read.js', { env: { JWT_SECRET: jwtSecret(ctx), BENCH_DATABASE_URL: await stackDatabaseUrl(ctx) } }),
  },

  async setup(ctx, { baseline, stack }) {
    // An owner (admin) with MFA enrolled: requireMfa is on by default, so admins must enroll first.
    const { totpAt } = await import(pathToFileURL(path.join(ctx.root, 'dist/src/auth/totp.js')));
    const email = `bench-read-${randomBytes(6).toString('hex')}@example.test`;
    const password = `Ledger-${randomBytes(12).toString('base64url')}`;
    const signup = await call(`${stack.url}/v1/auth/signup`, { method: 'POST', body: { businessName: 'Bench Read Co', name: 'Bench Owner', email, password, client: 'mobile' } });
    if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${signup.text}`);
    ctx.token = signup.json().accessToken;
    const setup = await call(`${stack.url}/v1/auth/mfa/setup`, { method: 'POST', token: ctx.token });
    if (setup.status !== 200) throw new Error(`mfa setup failed: ${setup.status} ${setup.text}`);
    const enable = await call(`${stack.url}/v1/auth/mfa/enable`, { method: 'POST', token: ctx.token, body: { code: totpAt(setup.json().secret, Date.now()) } });
    if (enable.status !== 200) throw new Error(`mfa enable failed: ${enable.status} ${enable.text}`);
    // Both must answer the same 200 JSON for the same token before we measure anything.
    const [s, b] = [await call(stack.url + SETTINGS, { token: ctx.token }), await call(baseline.url + SETTINGS, { token: ctx.token })];
    if (s.status !== 200 || b.status !== 200 || s.text !== b.text) throw new Error(`settings differ: stack ${s.status} ${s.text} / baseline ${b.status} ${b.text}`);
  },

  // Access tokens live 15 minutes: enough for the default 3 pairs of 10 s, not for hour-long runs.
  load: (ctx) => ({ method: 'GET', path: SETTINGS, connections: 100, pipelining: 1, durationSeconds: 10, headers: { authorization: `Bearer ${ctx.token}` } }),
};
