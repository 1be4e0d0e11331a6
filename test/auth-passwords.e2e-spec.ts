import { startTestApp, type TestApp } from './harness/app.js';
import {
  bearer,
  freshIp,
  fromFreshIps,
  lastEmailTo,
  login,
  mobileLogin,
  setCookieLines,
  signup,
  strongPassword,
  tokenIn,
  uniqueEmail,
  waitFor,
  webLogin,
} from './harness/identity.js';

// bcrypt (cost 12) makes sign-ins slow on a busy 2-core machine: well above Jest's 5 s default.
const TEST_TIMEOUT_MS = 30_000;

type Response = Awaited<ReturnType<TestApp['inject']>>;

/**
 * Passwords: the policy as the API reports it, change (signs out every device), forgotten
 * password (no account enumeration: same answer, same time) and reset (single use, expiring).
 */
describe('auth: passwords', () => {
  let raw: TestApp;
  let t: TestApp;
  beforeAll(async () => {
    raw = await startTestApp();
    raw.db.on('error', () => undefined);
    t = fromFreshIps(raw);
  }, TEST_TIMEOUT_MS);
  afterAll(async () => {
    await raw?.close();
  }, TEST_TIMEOUT_MS);

  const me = (headers: Record<string, string>) => t.inject({ method: 'GET', url: '/v1/auth/me', headers });
  const forgot = (email: string, remoteAddress = freshIp()) => t.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email }, remoteAddress });
  const reset = (token: string, newPassword: string) => t.inject({ method: 'POST', url: '/v1/auth/password/reset', payload: { token, newPassword } });

  /** Asks for a reset and returns the token from the email the job writes. */
  async function resetTokenFor(email: string): Promise<string> {
    const before = await lastEmailTo(raw, email, 'passwordReset');
    expect((await forgot(email)).statusCode).toBe(202);
    const mail = await waitFor(async () => {
      const latest = await lastEmailTo(raw, email, 'passwordReset');
      return latest && latest.text_body !== before?.text_body ? latest : undefined;
    }, { what: `a reset email to ${email}` });
    return tokenIn(mail.text_body, 'reset code');
  }

  // 40 × "é" is 40 characters but 80 bytes in UTF-8: within the length rule, over bcrypt's 72 bytes.
  const weak = [
    ['password_too_short', 'short-one'],
    ['password_too_many_bytes', `${'é'.repeat(40)}`],
    ['password_common', 'qwertyuiop123'],
  ] as const;

  function expectPolicyProblem(response: Response, field: string, code: string, password: string): void {
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = response.json();
    expect(body.code).toBe('validation_failed');
    expect(body.errors).toEqual([{ field, code, message: expect.any(String) }]);
    if (code === 'password_too_many_bytes') expect(body.errors[0].message).toMatch(/72 bytes/);
    expect(response.body).not.toContain(password);
  }

  describe('policy', () => {
    it('the common-password example is on the bundled list (else the password_common cases prove nothing)', async () => {
      const response = await t.inject({ method: 'POST', url: '/v1/auth/signup', payload: { businessName: 'X', name: 'Nora Common', email: uniqueEmail(), password: 'QwertyUIOP123', client: 'mobile' } });
      expect(response.json().errors?.[0]?.code).toBe('password_common');
    }, TEST_TIMEOUT_MS);

    it.each(weak)('signup refuses %s, naming the field "password"', async (code, password) => {
      const email = uniqueEmail();
      const response = await t.inject({ method: 'POST', url: '/v1/auth/signup', payload: { businessName: 'Weak Co', name: 'Will Weak', email, password, client: 'mobile' } });
      expectPolicyProblem(response, 'password', code, password);
      const { rows } = await raw.db.query('SELECT 1 FROM users WHERE email = $1', [email]);
      expect(rows).toHaveLength(0);
    }, TEST_TIMEOUT_MS);

    it.each(weak)('change-password refuses %s, naming the field "newPassword", and keeps the old password', async (code, password) => {
      const account = await signup(t);
      const response = await t.inject({ method: 'POST', url: '/v1/auth/password/change', headers: account.auth, payload: { currentPassword: account.password, newPassword: password } });
      expectPolicyProblem(response, 'newPassword', code, password);
      expect((await me(account.auth)).statusCode).toBe(200);
      expect((await login(t, { email: account.email, password: account.password, client: 'mobile' })).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);

    it.each(weak)('reset refuses %s, naming the field "newPassword", and leaves the token usable', async (code, password) => {
      const account = await signup(t);
      const token = await resetTokenFor(account.email);
      expectPolicyProblem(await reset(token, password), 'newPassword', code, password);
      const next = strongPassword();
      expect((await reset(token, next)).statusCode).toBe(204);
      expect((await login(t, { email: account.email, password: next, client: 'mobile' })).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);

    it('accepts exactly 72 bytes with spaces and accents, refuses 73 (the limit is bytes, not characters)', async () => {
      const password = `${'é'.repeat(30)} tw${'x'.repeat(9)}`; // 60 + 1 + 2 + 9 bytes, 42 characters
      expect(Buffer.byteLength(password)).toBe(72);
      const account = await signup(t, { password });
      expect((await login(t, { email: account.email, password, client: 'mobile' })).statusCode).toBe(200);
      const oneMore = `${password}x`;
      const refused = await t.inject({ method: 'POST', url: '/v1/auth/signup', payload: { businessName: 'Edge Co', name: 'Ed Edge', email: uniqueEmail(), password: oneMore, client: 'mobile' } });
      expectPolicyProblem(refused, 'password', 'password_too_many_bytes', oneMore);
    }, TEST_TIMEOUT_MS);
  });

  describe('change', () => {
    it('revokes every session on every device and returns a fresh session for the current (mobile) client', async () => {
      const account = await signup(t);
      const phone = await mobileLogin(t, account);
      const laptop = await webLogin(t, account);
      const tablet = await mobileLogin(t, account);
      for (const headers of [account.auth, phone.auth, tablet.auth, { cookie: laptop.cookie }]) expect((await me(headers)).statusCode).toBe(200);

      const wrongCurrent = await t.inject({ method: 'POST', url: '/v1/auth/password/change', headers: phone.auth, payload: { currentPassword: `${account.password}x`, newPassword: strongPassword() } });
      expect(wrongCurrent.statusCode).toBe(401);
      expect((await me(tablet.auth)).statusCode).toBe(200);

      const newPassword = strongPassword();
      const response = await t.inject({ method: 'POST', url: '/v1/auth/password/change', headers: phone.auth, payload: { currentPassword: account.password, newPassword } });
      expect(response.statusCode).toBe(200);
      const fresh = response.json();
      expect(fresh).toMatchObject({ userId: account.userId, businessId: account.businessId, accessToken: expect.any(String), refreshToken: expect.any(String) });
      expect(setCookieLines(response)).toEqual([]);

      // Every earlier session is over, including the one that made the change.
      for (const headers of [account.auth, phone.auth, tablet.auth, { cookie: laptop.cookie }]) expect((await me(headers)).statusCode).toBe(401);
      for (const refreshToken of [account.refreshToken, phone.refreshToken, tablet.refreshToken]) {
        expect((await t.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })).statusCode).toBe(401);
      }
      expect((await t.inject({ method: 'POST', url: '/v1/auth/refresh', headers: { cookie: laptop.cookie } })).statusCode).toBe(401);
      expect((await me(bearer(fresh.accessToken))).statusCode).toBe(200);
      expect((await t.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: fresh.refreshToken } })).statusCode).toBe(200);

      expect((await login(t, { email: account.email, password: account.password, client: 'mobile' })).statusCode).toBe(401);
      expect((await login(t, { email: account.email, password: newPassword, client: 'mobile' })).statusCode).toBe(200);
      const alert = await lastEmailTo(raw, account.email, 'securityAlert');
      expect(alert?.subject).toMatch(/password was changed/);
    }, TEST_TIMEOUT_MS);

    it('from the dashboard: needs the CSRF token, and the fresh session comes back as cookies', async () => {
      const account = await signup(t);
      const web = await webLogin(t, account);
      const newPassword = strongPassword();
      const payload = { currentPassword: account.password, newPassword };
      const noToken = await t.inject({ method: 'POST', url: '/v1/auth/password/change', headers: { cookie: web.cookie }, payload });
      expect(noToken.statusCode).toBe(403);
      const response = await t.inject({ method: 'POST', url: '/v1/auth/password/change', headers: { cookie: web.cookie, 'x-csrf-token': web.csrfToken }, payload });
      expect(response.statusCode).toBe(200);
      expect(response.json()).not.toHaveProperty('accessToken');
      expect(response.json()).not.toHaveProperty('refreshToken');
      expect(response.json().csrfToken).toEqual(expect.any(String));
      expect(response.json().csrfToken).not.toBe(web.csrfToken);
      const cookies = setCookieLines(response).map((line) => line.split('=')[0]);
      expect(cookies.sort()).toEqual(['__Host-ll_access', '__Host-ll_refresh']);
      expect((await me({ cookie: web.cookie })).statusCode).toBe(401);
      expect((await me(account.auth)).statusCode).toBe(401);
      const next = setCookieLines(response).map((line) => line.split(';')[0]).join('; ');
      expect((await me({ cookie: next })).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);
  });

  describe('forgotten password', () => {
    it('answers existing and unknown emails alike (status, body, headers), each after at least 400 ms', async () => {
      const account = await signup(t);
      const unknown = uniqueEmail('nobody');
      const timed = async (email: string) => {
        const started = performance.now();
        const response = await forgot(email);
        return { response, ms: performance.now() - started };
      };
      // Unknown first, so its job has run by the time the known one's email exists.
      const missing = await timed(unknown);
      const existing = await timed(account.email);
      const comparable = (response: Response) => {
        const { date, 'x-request-id': requestId, ...rest } = response.headers;
        expect(date).toBeDefined();
        expect(requestId).toBeDefined();
        return rest;
      };
      expect(existing.response.statusCode).toBe(202);
      expect(missing.response.statusCode).toBe(202);
      expect(existing.response.body).toBe(missing.response.body);
      expect(existing.response.json()).toEqual({ status: 'accepted' });
      expect(comparable(existing.response)).toEqual(comparable(missing.response));
      expect(existing.ms).toBeGreaterThanOrEqual(400);
      expect(missing.ms).toBeGreaterThanOrEqual(400);

      const mail = await waitFor(() => lastEmailTo(raw, account.email, 'passwordReset'), { what: 'the reset email' });
      expect(mail.subject).toBe('Reset your Ledgerline password');
      expect(tokenIn(mail.text_body, 'reset code')).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { rows } = await raw.db.query('SELECT count(*)::int AS n FROM emails WHERE to_address = $1', [unknown]);
      expect(rows[0].n).toBe(0);
      // The token is stored only as a hash.
      const stored = await raw.db.query('SELECT token_hash FROM password_resets r JOIN users u ON u.id = r.user_id WHERE u.email = $1', [account.email]);
      expect(stored.rows).toHaveLength(1);
      expect(Buffer.from(stored.rows[0].token_hash).toString('utf8')).not.toContain(tokenIn(mail.text_body, 'reset code'));
    }, TEST_TIMEOUT_MS);

    it('finds the account by its canonical email', async () => {
      const account = await signup(t);
      expect((await forgot(`  ${account.email.toUpperCase()} `)).statusCode).toBe(202);
      const mail = await waitFor(() => lastEmailTo(raw, account.email, 'passwordReset'), { what: 'the reset email' });
      expect(mail.text_body).toContain('Your reset code:');
    }, TEST_TIMEOUT_MS);
  });

  describe('reset', () => {
    it('works once with the emailed token, revokes every session, and the new password signs in', async () => {
      const account = await signup(t);
      const phone = await mobileLogin(t, account);
      const web = await webLogin(t, account);
      const token = await resetTokenFor(account.email);
      const newPassword = strongPassword();

      expect((await reset(token, newPassword)).statusCode).toBe(204);
      for (const headers of [account.auth, phone.auth, { cookie: web.cookie }]) expect((await me(headers)).statusCode).toBe(401);
      expect((await t.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: phone.refreshToken } })).statusCode).toBe(401);

      const again = await reset(token, strongPassword());
      expect(again.statusCode).toBe(401);
      expect(again.json().code).toBe('invalid_reset_token');

      expect((await login(t, { email: account.email, password: account.password, client: 'mobile' })).statusCode).toBe(401);
      expect((await login(t, { email: account.email, password: newPassword, client: 'mobile' })).statusCode).toBe(200);
      const alert = await lastEmailTo(raw, account.email, 'securityAlert');
      expect(alert?.subject).toMatch(/password was reset/);
    }, TEST_TIMEOUT_MS);

    it('refuses an expired token (401) and a made-up one', async () => {
      const account = await signup(t);
      const token = await resetTokenFor(account.email);
      const { rowCount } = await raw.db.query(`UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND used_at IS NULL`, [account.userId]);
      expect(rowCount).toBe(1);
      const expired = await reset(token, strongPassword());
      expect(expired.statusCode).toBe(401);
      expect(expired.json().code).toBe('invalid_reset_token');
      expect((await reset(`${token.slice(0, -3)}abc`, strongPassword())).statusCode).toBe(401);
      expect((await login(t, { email: account.email, password: account.password, client: 'mobile' })).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);

    it('two resets racing with one token: exactly one succeeds', async () => {
      const account = await signup(t);
      const token = await resetTokenFor(account.email);
      const [first, second] = [strongPassword(), strongPassword()];
      const results = await Promise.all([reset(token, first), reset(token, second)]);
      expect(results.map((response) => response.statusCode).sort()).toEqual([204, 401]);
      const winner = results[0].statusCode === 204 ? first : second;
      expect((await login(t, { email: account.email, password: winner, client: 'mobile' })).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);
  });

  describe('login failures', () => {
    it('a wrong password and an unknown email get the same 401 body', async () => {
      const account = await signup(t);
      const wrong = await login(t, { email: account.email, password: `${account.password}-wrong`, client: 'mobile' });
      const unknown = await login(t, { email: uniqueEmail('ghost'), password: account.password, client: 'mobile' });
      expect(wrong.statusCode).toBe(401);
      expect(unknown.statusCode).toBe(401);
      expect(wrong.body).toBe(unknown.body);
      expect(wrong.json().code).toBe('invalid_credentials');
      expect(wrong.headers['content-type']).toBe(unknown.headers['content-type']);
    }, TEST_TIMEOUT_MS);
  });
});
