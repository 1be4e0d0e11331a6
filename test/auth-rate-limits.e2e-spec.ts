import { Writable } from 'node:stream';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { createHttpApp } from '../src/common/http/http-app.js';
import { createLogger } from '../src/common/logging/logger.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { fromFreshIps, signup, uniqueEmail, type TestAccount } from './harness/identity.js';

// bcrypt (cost 12) makes sign-ins slow on a busy 2-core machine: well above Jest's 5 s default.
const TEST_TIMEOUT_MS = 30_000;

type Response = Awaited<ReturnType<TestApp['inject']>>;

const LIMIT = 10;

function expectRateLimited(response: Response): void {
  expect(response.statusCode).toBe(429);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.json()).toMatchObject({ status: 429, code: 'rate_limited' });
  const retryAfter = String(response.headers['retry-after']);
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThan(0);
  expect(Number(retryAfter)).toBeLessThanOrEqual(15 * 60);
}

/**
 * The credential routes allow 10 requests per 15 minutes per client IP (refresh: per token
 * family), counted in shared storage (Redis, or PostgreSQL without it), so every API instance
 * spends one budget. The client IP is the socket address unless TRUST_PROXY hops are configured.
 */
describe('auth: rate limits', () => {
  let t: TestApp;
  let account: TestAccount;
  beforeAll(async () => {
    t = await startTestApp();
    t.db.on('error', () => undefined);
    account = await signup(fromFreshIps(t));
  }, TEST_TIMEOUT_MS);
  afterAll(async () => {
    await t?.close();
  }, TEST_TIMEOUT_MS);

  const loginOn = (app: Pick<TestApp, 'inject'>, remoteAddress: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/v1/auth/login', payload: { client: 'mobile', ...payload }, remoteAddress, headers });
  const badLogin = () => ({ email: uniqueEmail('nobody'), password: 'not-the-password-1' });
  const goodLogin = () => ({ email: account.email, password: account.password });

  /** Spends a whole budget with failed logins (run in parallel: bcrypt dominates), all answered 401. */
  async function spend(app: Pick<TestApp, 'inject'>, remoteAddress: string, headers: (i: number) => Record<string, string> = () => ({})): Promise<void> {
    const responses = await Promise.all(Array.from({ length: LIMIT }, (_, i) => loginOn(app, remoteAddress, badLogin(), headers(i))));
    expect(responses.map((response) => response.statusCode)).toEqual(Array(LIMIT).fill(401));
  }

  it('10 logins per 15 minutes per IP, then 429 problem+json with Retry-After; another IP keeps its budget', async () => {
    const ip = '192.0.2.10';
    const first = await loginOn(t, ip, badLogin());
    expect(first.statusCode).toBe(401);
    expect(first.headers['x-ratelimit-limit']).toBe(String(LIMIT));
    expect(first.headers['x-ratelimit-remaining']).toBe(String(LIMIT - 1));
    for (let i = 1; i < LIMIT; i += 1) expect((await loginOn(t, ip, badLogin())).statusCode).toBe(401);

    // The 11th is refused even with the right password, before the credentials are looked at.
    const blocked = await loginOn(t, ip, goodLogin());
    expectRateLimited(blocked);
    const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE ip = $1 AND action LIKE 'auth.login.%'`, [ip]);
    expect(rows[0].n).toBe(LIMIT);

    expect((await loginOn(t, '192.0.2.11', goodLogin())).statusCode).toBe(200);
    // Per route: the same IP still has its budget on the other credential routes.
    expect((await t.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email: account.email }, remoteAddress: ip })).statusCode).toBe(202);
  }, TEST_TIMEOUT_MS);

  it('without TRUST_PROXY, X-Forwarded-For and friends do not change the client IP: spoofing does not reset the budget', async () => {
    const ip = '192.0.2.20';
    await spend(t, ip, (i) => ({ 'x-forwarded-for': `203.0.113.${i + 1}` }));
    for (const headers of <Array<Record<string, string>>>[{ 'x-forwarded-for': '203.0.113.200' }, { 'x-forwarded-for': '203.0.113.201, 198.51.100.1' }, { 'x-real-ip': '203.0.113.202' }, { forwarded: 'for=203.0.113.203' }]) {
      expectRateLimited(await loginOn(t, ip, goodLogin(), headers));
    }
    const recorded = await t.db.query(`SELECT DISTINCT ip FROM audit_events WHERE ip = $1 OR ip LIKE '203.0.113.%'`, [ip]);
    expect(recorded.rows).toEqual([{ ip }]);
  }, TEST_TIMEOUT_MS);

  it('refresh is limited per token family: the 11th refresh of one family → 429; another family from the same IP is unaffected', async () => {
    const ip = '192.0.2.30';
    const refresh = (refreshToken: string, remoteAddress = ip) => t.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken }, remoteAddress });
    const family = await signup(fromFreshIps(t));
    const otherFamily = await signup(fromFreshIps(t));
    let token = family.refreshToken;
    for (let i = 0; i < LIMIT; i += 1) {
      const response = await refresh(token);
      expect(response.statusCode).toBe(200);
      token = response.json().refreshToken;
    }
    expectRateLimited(await refresh(token));
    // Per family, not per IP: moving elsewhere does not help that family...
    expectRateLimited(await refresh(token, '192.0.2.31'));
    // ...and another family from the very same IP is not affected.
    expect((await refresh(otherFamily.refreshToken)).statusCode).toBe(200);
  }, TEST_TIMEOUT_MS);

  it('the counters are shared: a second API instance on the same database and Redis spends the same budget', async () => {
    const silent = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    let second: NestFastifyApplication | undefined;
    try {
      second = await createHttpApp({ config: { ...t.config, role: 'api' }, databaseUrl: t.databaseUrl, logger: createLogger('silent', silent), queuePrefix: t.queuePrefix });
      await second.init();
      const fastify = second.getHttpAdapter().getInstance() as unknown as FastifyInstance;
      await fastify.ready();
      const other = { inject: (request: Parameters<TestApp['inject']>[0]) => fastify.inject(request as never) } as Pick<TestApp, 'inject'>;

      const ip = '192.0.2.40';
      // Control: the second instance answers logins itself.
      expect((await loginOn(other, '192.0.2.41', goodLogin())).statusCode).toBe(200);
      const responses = [];
      for (let i = 0; i < LIMIT; i += 1) responses.push((await loginOn(i % 2 === 0 ? t : other, ip, badLogin())).statusCode);
      expect(responses).toEqual(Array(LIMIT).fill(401));
      expectRateLimited(await loginOn(other, ip, goodLogin()));
      expectRateLimited(await loginOn(t, ip, goodLogin()));
    } finally {
      await second?.close();
    }
  }, TEST_TIMEOUT_MS);

  // Needs http-app.ts to give Fastify the hop count as a function: Fastify 5.12 treats a numeric
  // trustProxy as "trust no hop", which made TRUST_PROXY a silent no-op (every client had the proxy's IP).
  describe('behind one trusted proxy (TRUST_PROXY=1)', () => {
    let proxied: TestApp;
    let member: TestAccount;
    const proxy = '10.250.0.1';
    beforeAll(async () => {
      proxied = await startTestApp({ env: { TRUST_PROXY: '1' } });
      proxied.db.on('error', () => undefined);
      member = await signup(proxied);
    }, TEST_TIMEOUT_MS);
    afterAll(async () => {
      await proxied?.close();
    }, TEST_TIMEOUT_MS);

    const viaProxy = (forwardedFor: string | undefined, payload: Record<string, unknown>) =>
      loginOn(proxied, proxy, payload, forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor });

    it('the client IP is the last X-Forwarded-For hop: two forwarded clients have separate budgets', async () => {
      await spend(proxied, proxy, () => ({ 'x-forwarded-for': '203.0.113.7' }));
      expectRateLimited(await viaProxy('203.0.113.7', { email: member.email, password: member.password }));
      expect((await viaProxy('203.0.113.8', { email: member.email, password: member.password })).statusCode).toBe(200);
      // The proxy's own address is a client of its own too (no header: the socket address).
      expect((await viaProxy(undefined, { email: member.email, password: member.password })).statusCode).toBe(200);
      const recorded = await proxied.db.query(`SELECT ip, count(*)::int AS n FROM audit_events WHERE action LIKE 'auth.login.%' GROUP BY ip ORDER BY ip`);
      expect(recorded.rows).toEqual(expect.arrayContaining([{ ip: '203.0.113.7', n: LIMIT }, { ip: '203.0.113.8', n: 1 }, { ip: proxy, n: 1 }]));
    }, TEST_TIMEOUT_MS);

    it('prepending fake entries does not escape the budget: the rightmost (proxy-appended) hop counts', async () => {
      await spend(proxied, proxy, (i) => ({ 'x-forwarded-for': `198.51.100.${i + 1}, 198.51.100.77` }));
      for (const forwardedFor of ['198.51.100.77', '192.0.2.99, 198.51.100.77', '127.0.0.1, 10.0.0.1, 198.51.100.77', 'unknown, 198.51.100.77']) {
        expectRateLimited(await viaProxy(forwardedFor, { email: member.email, password: member.password }));
      }
      // A fake entry does not make the real client someone else's either.
      expect((await viaProxy('198.51.100.77, 198.51.100.78', { email: member.email, password: member.password })).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);
  });
});
