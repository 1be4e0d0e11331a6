import { createHash } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { startTestApp, type TestApp } from './harness/app.js';
import {
  auditEventsFor,
  bearer,
  decodeJwt,
  fromFreshIps,
  inviteAndAccept,
  lastEmailTo,
  login,
  mobileLogin,
  nextTotp,
  readyAdmin,
  setCookieLines,
  signup,
  strongPassword,
  uniqueEmail,
  webLogin,
  webSessionFrom,
} from './harness/identity.js';

// bcrypt (cost 12) makes sign-ins slow on a busy 2-core machine: well above Jest's 5 s default.
const TEST_TIMEOUT_MS = 30_000;

const ACCESS = '__Host-ll_access';
const REFRESH = '__Host-ll_refresh';

/**
 * Sessions: the two client kinds (mobile tokens in the body, web `__Host-` cookies + CSRF token),
 * access-token verification, refresh rotation with theft detection, CSRF, logout, the session
 * list, switching businesses and expiry.
 */
describe('auth: sessions, tokens, cookies and CSRF', () => {
  let raw: TestApp;
  let t: TestApp;
  beforeAll(async () => {
    raw = await startTestApp();
    raw.db.on('error', () => undefined);
    // Every request from its own IP unless a test says otherwise: the per-IP limits are another suite's.
    t = fromFreshIps(raw);
  }, TEST_TIMEOUT_MS);
  afterAll(async () => {
    await raw?.close();
  }, TEST_TIMEOUT_MS);

  const me = (headers: Record<string, string>) => t.inject({ method: 'GET', url: '/v1/auth/me', headers });
  const refresh = (refreshToken: string) => t.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } });

  describe('signup and the two client kinds', () => {
    it('a mobile signup answers 201 with the user, the business and tokens in the body, and sets no cookie', async () => {
      const email = uniqueEmail('mobile');
      const response = await t.inject({ method: 'POST', url: '/v1/auth/signup', payload: { businessName: 'Bolt Electrics', name: 'Mo Bile', email, password: strongPassword(), client: 'mobile' } });
      expect(response.statusCode).toBe(201);
      const body = response.json();
      expect(body.user).toEqual({ id: expect.any(String), name: 'Mo Bile', email });
      expect(body.business).toEqual({ id: expect.any(String), name: 'Bolt Electrics' });
      expect(body).toMatchObject({ userId: body.user.id, businessId: body.business.id, role: 'admin', expiresIn: 900 });
      expect(body.accessToken).toEqual(expect.any(String));
      expect(body.refreshToken).toEqual(expect.any(String));
      expect(setCookieLines(response)).toEqual([]);
      expect((await me(bearer(body.accessToken))).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);

    function expectSessionCookies(response: Awaited<ReturnType<TestApp['inject']>>): void {
      const lines = setCookieLines(response);
      for (const name of [ACCESS, REFRESH]) {
        const line = lines.find((item) => item.startsWith(`${name}=`));
        expect(line).toBeDefined();
        const attributes = line!.split(';').slice(1).map((part) => part.trim());
        expect(attributes).toContain('HttpOnly');
        expect(attributes).toContain('Secure');
        expect(attributes).toContain('SameSite=Strict');
        expect(attributes).toContain('Path=/');
        // `__Host-` cookies must not name a domain (browsers refuse them otherwise).
        expect(attributes.some((part) => /^domain=/i.test(part))).toBe(false);
      }
      const body = response.json();
      expect(body.csrfToken).toEqual(expect.any(String));
      expect(body).not.toHaveProperty('accessToken');
      expect(body).not.toHaveProperty('refreshToken');
      // The token values appear nowhere in the body, under any name.
      const session = webSessionFrom(response);
      expect(response.body).not.toContain(session.cookies[ACCESS]);
      expect(response.body).not.toContain(session.cookies[REFRESH]);
    }

    it('a web signup (client omitted) sets __Host- cookies (HttpOnly, Secure, SameSite=Strict, Path=/) and returns only the CSRF token', async () => {
      const response = await t.inject({ method: 'POST', url: '/v1/auth/signup', payload: { businessName: 'Web Works', name: 'Wendy Web', email: uniqueEmail('web'), password: strongPassword() } });
      expect(response.statusCode).toBe(201);
      expectSessionCookies(response);
      // The cookie alone authenticates a safe request.
      const session = webSessionFrom(response);
      expect((await me({ cookie: session.cookie })).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);

    it('a web login (client omitted) does the same', async () => {
      const account = await signup(t);
      const response = await login(t, { email: account.email, password: account.password });
      expect(response.statusCode).toBe(200);
      expectSessionCookies(response);
      const session = webSessionFrom(response);
      const who = await me({ cookie: session.cookie });
      expect(who.statusCode).toBe(200);
      expect(who.json().user.id).toBe(account.userId);
    }, TEST_TIMEOUT_MS);

    it('canonicalises emails: case, surrounding spaces and NFKC variants of an existing email are taken (409 email_taken)', async () => {
      const local = `ada-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 8)}`;
      const account = await signup(t, { email: `${local}@example.test` });
      const fullwidth = [...local].map((char) => String.fromCodePoint(char.codePointAt(0)! + 0xfee0)).join('');
      for (const variant of [`  ${local.toUpperCase()}@Example.TEST `, `${local}@EXAMPLE.test`, `${fullwidth}@example.test`, `\t${fullwidth}@Example.Test\n`]) {
        const response = await t.inject({ method: 'POST', url: '/v1/auth/signup', payload: { businessName: 'Copycat Ltd', name: 'Copy Cat', email: variant, password: strongPassword(), client: 'mobile' } });
        expect({ variant, status: response.statusCode, code: response.json().code }).toEqual({ variant, status: 409, code: 'email_taken' });
      }
      const { rows } = await raw.db.query('SELECT email FROM users WHERE email ILIKE $1', [`%${local}%`]);
      expect(rows).toEqual([{ email: `${local}@example.test` }]);
      // The same variants sign in to the one account.
      const variantLogin = await login(t, { email: `  ${fullwidth.toUpperCase()}@Example.TEST `, password: account.password, client: 'mobile' });
      expect(variantLogin.statusCode).toBe(200);
      expect(variantLogin.json().userId).toBe(account.userId);
    }, TEST_TIMEOUT_MS);
  });

  describe('access tokens', () => {
    it('are HS256 JWTs carrying sub, bid, role, sid, typ=access and the API audience', async () => {
      const account = await signup(t);
      const { header, payload } = decodeJwt(account.accessToken);
      expect(header.alg).toBe('HS256');
      expect(payload).toMatchObject({ sub: account.userId, bid: account.businessId, role: 'admin', typ: 'access', aud: 'ledgerline-api', sid: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      expect(Number(payload.exp) - Number(payload.iat)).toBe(900);
      // The refresh token is not a JWT that could pass for an access token.
      expect((await me(bearer(account.refreshToken))).statusCode).toBe(401);
    }, TEST_TIMEOUT_MS);

    it('refuses forged, foreign, expired and mistyped tokens with 401', async () => {
      const account = await signup(t);
      const { payload } = decodeJwt(account.accessToken);
      const secret = raw.config.jwtSecret;
      const claims = { bid: payload.bid, role: payload.role, sid: payload.sid, typ: 'access' };
      const options = { audience: 'ledgerline-api', issuer: 'ledgerline', subject: account.userId, expiresIn: 600 } as const;
      const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);

      // Control: a token made this way with the right parameters is accepted, so each refusal below is about its one difference.
      const control = jwt.sign(claims, secret, { ...options, algorithm: 'HS256' });
      expect((await me(bearer(control))).statusCode).toBe(200);

      const forged: Record<string, string> = {
        'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, sub: account.userId, aud: 'ledgerline-api', iss: 'ledgerline', iat: now, exp: now + 600 })}.`,
        'alg none with a signature part': `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, sub: account.userId, aud: 'ledgerline-api', iss: 'ledgerline', iat: now, exp: now + 600 })}.${control.split('.')[2]}`,
        HS512: jwt.sign(claims, secret, { ...options, algorithm: 'HS512' }),
        'wrong secret': jwt.sign(claims, `${secret}-not`, { ...options, algorithm: 'HS256' }),
        'typ refresh': jwt.sign({ ...claims, typ: 'refresh' }, secret, { ...options, algorithm: 'HS256' }),
        'no typ': jwt.sign({ bid: claims.bid, role: claims.role, sid: claims.sid }, secret, { ...options, algorithm: 'HS256' }),
        expired: jwt.sign({ ...claims, iat: now - 3600, exp: now - 60 }, secret, { audience: options.audience, issuer: options.issuer, subject: options.subject, algorithm: 'HS256' }),
        'wrong audience': jwt.sign(claims, secret, { ...options, audience: 'ledgerline-admin', algorithm: 'HS256' }),
        'no audience': jwt.sign(claims, secret, { issuer: options.issuer, subject: options.subject, expiresIn: 600, algorithm: 'HS256' }),
        'wrong issuer': jwt.sign(claims, secret, { ...options, issuer: 'someone-else', algorithm: 'HS256' }),
        'another user as sub': jwt.sign(claims, secret, { ...options, subject: '00000000-0000-4000-8000-000000000000', algorithm: 'HS256' }),
        'tampered payload': `${account.accessToken.split('.')[0]}.${b64({ ...payload, role: 'viewer' })}.${account.accessToken.split('.')[2]}`,
      };
      const outcomes = await Promise.all(Object.entries(forged).map(async ([name, token]) => {
        const viaBearer = await me(bearer(token));
        const viaCookie = await me({ cookie: `${ACCESS}=${token}` });
        return { name, bearer: viaBearer.statusCode, cookie: viaCookie.statusCode, code: viaBearer.json().code };
      }));
      for (const outcome of outcomes) expect(outcome).toEqual({ name: outcome.name, bearer: 401, cookie: 401, code: 'unauthorized' });
    }, TEST_TIMEOUT_MS);

    it("refuses a revoked session's access token on its next request, and cannot revoke another user's session", async () => {
      const account = await signup(t);
      const other = await mobileLogin(t, account);
      const otherSid = decodeJwt(other.accessToken).payload.sid as string;
      expect((await me(other.auth)).statusCode).toBe(200);

      const stranger = await signup(t);
      const strangerSid = decodeJwt(stranger.accessToken).payload.sid as string;
      const foreign = await t.inject({ method: 'DELETE', url: `/v1/auth/sessions/${strangerSid}`, headers: account.auth });
      expect(foreign.statusCode).toBe(404);
      expect((await me(stranger.auth)).statusCode).toBe(200);

      const revoke = await t.inject({ method: 'DELETE', url: `/v1/auth/sessions/${otherSid}`, headers: account.auth });
      expect(revoke.statusCode).toBe(204);
      expect((await me(other.auth)).statusCode).toBe(401);
      expect((await refresh(other.refreshToken)).statusCode).toBe(401);
      expect((await me(account.auth)).statusCode).toBe(200);
      expect((await auditEventsFor(raw, account.userId, 'auth.session.revoked')).map((event) => event.entity_id)).toEqual([otherSid]);
    }, TEST_TIMEOUT_MS);
  });

  describe('refresh', () => {
    it('rotates: returns new tokens, the new refresh token works and the session stays the same', async () => {
      const account = await signup(t);
      const first = await refresh(account.refreshToken);
      expect(first.statusCode).toBe(200);
      const rotated = first.json();
      expect(rotated.refreshToken).not.toBe(account.refreshToken);
      expect(decodeJwt(rotated.accessToken).payload.sid).toBe(decodeJwt(account.accessToken).payload.sid);
      expect((await me(bearer(rotated.accessToken))).statusCode).toBe(200);
      const second = await refresh(rotated.refreshToken);
      expect(second.statusCode).toBe(200);
      expect((await me(bearer(second.json().accessToken))).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);

    it('rotates the web cookie too (no body token needed)', async () => {
      const account = await signup(t);
      const session = await webLogin(t, account);
      const response = await t.inject({ method: 'POST', url: '/v1/auth/refresh', headers: { cookie: session.cookie } });
      expect(response.statusCode).toBe(200);
      const next = webSessionFrom(response);
      expect(next.cookies[REFRESH]).toEqual(expect.any(String));
      expect(next.cookies[REFRESH]).not.toBe(session.cookies[REFRESH]);
      expect(response.json()).not.toHaveProperty('refreshToken');
      expect((await me({ cookie: next.cookie })).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);

    it('a consumed refresh token presented again → 401, the whole family is revoked, an audit event and a security email are written', async () => {
      const account = await signup(t);
      const sid = decodeJwt(account.accessToken).payload.sid as string;
      const rotated = (await refresh(account.refreshToken)).json();
      expect((await me(bearer(rotated.accessToken))).statusCode).toBe(200);
      const emailsBefore = await raw.db.query(`SELECT count(*)::int AS n FROM emails WHERE to_address = $1 AND template = 'securityAlert'`, [account.email]);
      expect(emailsBefore.rows[0].n).toBe(0);

      const other = await mobileLogin(t, account);
      const replay = await refresh(account.refreshToken);
      expect(replay.statusCode).toBe(401);
      expect(replay.json().code).toBe('invalid_refresh_token');
      // The successor (the legitimate holder's, or the thief's) stops working too.
      expect((await refresh(rotated.refreshToken)).statusCode).toBe(401);
      expect((await me(bearer(rotated.accessToken))).statusCode).toBe(401);
      expect((await me(account.auth)).statusCode).toBe(401);

      const events = await raw.db.query(`SELECT entity_id, detail FROM audit_events WHERE action = 'auth.refresh.reuse_detected'`);
      expect(events.rows).toEqual([{ entity_id: sid, detail: { userId: account.userId } }]);
      const email = await lastEmailTo(raw, account.email, 'securityAlert');
      expect(email?.subject).toMatch(/security alert/i);
      expect(email?.text_body).toMatch(/signed that device out/);
      // Another session (token family) of the same user is untouched.
      expect((await me(other.auth)).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);

    it('two concurrent refreshes with the same token: exactly one 200', async () => {
      const account = await signup(t);
      const responses = await Promise.all([refresh(account.refreshToken), refresh(account.refreshToken)]);
      expect(responses.map((response) => response.statusCode).sort()).toEqual([200, 401]);
      const { rows } = await raw.db.query(`SELECT count(*)::int AS n FROM refresh_tokens WHERE session_id = $1`, [decodeJwt(account.accessToken).payload.sid]);
      expect(rows[0].n).toBe(2); // the original and exactly one successor
    }, TEST_TIMEOUT_MS);

    it('refuses an unknown or malformed refresh token, and a request with none', async () => {
      const account = await signup(t);
      expect((await refresh(`${account.refreshToken}x`)).statusCode).toBe(401);
      expect((await refresh('not-a-token')).statusCode).toBe(401);
      expect((await t.inject({ method: 'POST', url: '/v1/auth/refresh', payload: {} })).statusCode).toBe(401);
      expect((await refresh(account.refreshToken)).statusCode).toBe(200);
    }, TEST_TIMEOUT_MS);
  });

  describe('CSRF', () => {
    it('cookie-authenticated unsafe requests need the session’s X-CSRF-Token; bearer requests do not', async () => {
      const admin = await readyAdmin(t);
      const web = await webLogin(t, admin, { mfaCode: nextTotp(admin.mfaSecret!) });
      const settings = (headers: Record<string, string>, name: string) => t.inject({ method: 'PATCH', url: '/v1/settings', headers, payload: { name } });

      const missing = await settings({ cookie: web.cookie }, 'Missing Token Ltd');
      expect(missing.statusCode).toBe(403);
      expect(missing.json().code).toBe('csrf_token_invalid');
      expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);

      const wrong = await settings({ cookie: web.cookie, 'x-csrf-token': `${web.csrfToken.slice(0, -2)}xx` }, 'Wrong Token Ltd');
      expect(wrong.statusCode).toBe(403);
      expect(wrong.json().code).toBe('csrf_token_invalid');

      // The CSRF token of another session (here another user's dashboard) does not fit this one.
      const otherWeb = webSessionFrom(await t.inject({ method: 'POST', url: '/v1/auth/signup', payload: { businessName: 'Other Co', name: 'Otto Other', email: uniqueEmail(), password: strongPassword() } }));
      expect(otherWeb.csrfToken).toEqual(expect.any(String));
      const foreign = await settings({ cookie: web.cookie, 'x-csrf-token': otherWeb.csrfToken }, 'Foreign Token Ltd');
      expect(foreign.statusCode).toBe(403);
      expect(foreign.json().code).toBe('csrf_token_invalid');

      // The token is bound to the session, so it stays valid across a refresh.
      const second = await t.inject({ method: 'POST', url: '/v1/auth/refresh', headers: { cookie: web.cookie } });
      expect(second.statusCode).toBe(200);
      const rotatedWeb = webSessionFrom(second);
      expect(rotatedWeb.csrfToken).toBe(web.csrfToken);

      expect((await raw.db.query('SELECT name FROM businesses WHERE id = $1', [admin.businessId])).rows[0].name).toBe('Ace Plumbing');

      const right = await settings({ cookie: rotatedWeb.cookie, 'x-csrf-token': rotatedWeb.csrfToken }, 'Right Token Ltd');
      expect(right.statusCode).toBe(200);
      expect(right.json().name).toBe('Right Token Ltd');

      // Bearer-authenticated: no CSRF token needed (a browser never adds an Authorization header by itself).
      const viaBearer = await settings(admin.auth, 'Bearer Works Ltd');
      expect(viaBearer.statusCode).toBe(200);
      expect(viaBearer.json().name).toBe('Bearer Works Ltd');
    }, TEST_TIMEOUT_MS);

    it('POST /v1/auth/logout with the cookies but no or a wrong token → 403; with the right token → 204 and the cookies are cleared', async () => {
      const account = await signup(t);
      const web = await webLogin(t, account);
      const logout = (headers: Record<string, string>) => t.inject({ method: 'POST', url: '/v1/auth/logout', headers });
      const none = await logout({ cookie: web.cookie });
      expect(none.statusCode).toBe(403);
      expect(none.json().code).toBe('csrf_token_invalid');
      const wrong = await logout({ cookie: web.cookie, 'x-csrf-token': 'A'.repeat(web.csrfToken.length) });
      expect(wrong.statusCode).toBe(403);
      expect((await me({ cookie: web.cookie })).statusCode).toBe(200);

      const right = await logout({ cookie: web.cookie, 'x-csrf-token': web.csrfToken });
      expect(right.statusCode).toBe(204);
      const cleared = setCookieLines(right);
      for (const name of [ACCESS, REFRESH]) {
        const line = cleared.find((item) => item.startsWith(`${name}=`));
        expect(line).toMatch(/Expires=Thu, 01 Jan 1970|Max-Age=0/i);
      }
      expect((await me({ cookie: web.cookie })).statusCode).toBe(401);
    }, TEST_TIMEOUT_MS);

    it('refuses a cross-site form post (form encodings, cookies, no token)', async () => {
      const admin = await readyAdmin(t);
      await t.inject({ method: 'PATCH', url: '/v1/settings', headers: admin.auth, payload: { name: 'Before Ltd' } });
      const web = await webLogin(t, admin, { mfaCode: nextTotp(admin.mfaSecret!) });
      const attempts = [
        { url: '/v1/auth/logout', method: 'POST', type: 'application/x-www-form-urlencoded', payload: `refreshToken=${encodeURIComponent(web.cookies[REFRESH])}` },
        { url: '/v1/auth/logout', method: 'POST', type: 'application/x-www-form-urlencoded', payload: '' },
        { url: '/v1/auth/logout', method: 'POST', type: 'text/plain', payload: '{"refreshToken":"x"}' },
        { url: '/v1/auth/logout', method: 'POST', type: 'multipart/form-data; boundary=x', payload: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n' },
        { url: '/v1/settings', method: 'PATCH', type: 'application/x-www-form-urlencoded', payload: 'name=Pwned' },
        { url: '/v1/auth/password/change', method: 'POST', type: 'application/x-www-form-urlencoded', payload: `currentPassword=x&newPassword=${strongPassword()}` },
      ] as const;
      for (const attempt of attempts) {
        const response = await t.inject({
          method: attempt.method,
          url: attempt.url,
          headers: { cookie: web.cookie, 'content-type': attempt.type, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
          payload: attempt.payload,
        });
        expect({ ...attempt, refused: [403, 415].includes(response.statusCode) }).toEqual({ ...attempt, refused: true });
      }
      // A body-less cross-site POST reaches the guard and is refused for the missing token.
      const bare = await t.inject({ method: 'POST', url: '/v1/auth/logout', headers: { cookie: web.cookie, origin: 'https://evil.example' } });
      expect(bare.statusCode).toBe(403);
      expect(bare.json().code).toBe('csrf_token_invalid');
      // Nothing happened: still signed in, settings unchanged.
      expect((await me({ cookie: web.cookie })).statusCode).toBe(200);
      expect((await t.inject({ method: 'GET', url: '/v1/settings', headers: { cookie: web.cookie } })).json().name).toBe('Before Ltd');
    }, TEST_TIMEOUT_MS);
  });

  describe('logout', () => {
    it("revokes only a session the caller owns: another user's refresh token → 401 and that session lives on; own → 204", async () => {
      const first = await signup(t);
      const second = await signup(t);
      const foreign = await t.inject({ method: 'POST', url: '/v1/auth/logout', headers: first.auth, payload: { refreshToken: second.refreshToken } });
      expect(foreign.statusCode).toBe(401);
      expect((await me(second.auth)).statusCode).toBe(200);
      expect((await me(first.auth)).statusCode).toBe(200);
      const secondRefresh = await refresh(second.refreshToken);
      expect(secondRefresh.statusCode).toBe(200);

      // Another session of one's own, by its refresh token: only that one ends.
      const firstOther = await mobileLogin(t, first);
      const own = await t.inject({ method: 'POST', url: '/v1/auth/logout', headers: first.auth, payload: { refreshToken: firstOther.refreshToken } });
      expect(own.statusCode).toBe(204);
      expect((await me(firstOther.auth)).statusCode).toBe(401);
      expect((await refresh(firstOther.refreshToken)).statusCode).toBe(401);
      expect((await me(first.auth)).statusCode).toBe(200);

      const self = await t.inject({ method: 'POST', url: '/v1/auth/logout', headers: first.auth, payload: { refreshToken: first.refreshToken } });
      expect(self.statusCode).toBe(204);
      expect((await me(first.auth)).statusCode).toBe(401);
      expect((await refresh(first.refreshToken)).statusCode).toBe(401);
      expect((await me(bearer(secondRefresh.json().accessToken))).statusCode).toBe(200);
      expect((await auditEventsFor(raw, first.userId, 'auth.logout')).length).toBe(2);
    }, TEST_TIMEOUT_MS);
  });

  describe('the session list', () => {
    it('GET /v1/auth/sessions lists each device with IP, user agent, last use and which one is current', async () => {
      const account = await signup(t);
      const phone = await mobileLogin(t, account, {}, { remoteAddress: '192.0.2.17', headers: { 'user-agent': 'LedgerlineApp/3.1 (iPhone)' } });
      const laptop = await webLogin(t, account, {}, { remoteAddress: '198.51.100.23', headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' } });
      const response = await t.inject({ method: 'GET', url: '/v1/auth/sessions', headers: phone.auth });
      expect(response.statusCode).toBe(200);
      const sessions = response.json().data as Array<Record<string, unknown>>;
      expect(sessions).toHaveLength(3); // signup, phone, laptop
      const phoneSid = decodeJwt(phone.accessToken).payload.sid;
      expect(sessions.filter((session) => session.current)).toEqual([expect.objectContaining({ id: phoneSid, client: 'mobile', ip: '192.0.2.17', userAgent: 'LedgerlineApp/3.1 (iPhone)' })]);
      const web = sessions.find((session) => session.client === 'web');
      expect(web).toMatchObject({ ip: '198.51.100.23', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0', current: false, businessId: account.businessId });
      for (const session of sessions) {
        expect(Number.isNaN(Date.parse(String(session.lastUsedAt)))).toBe(false);
        expect(Number.isNaN(Date.parse(String(session.createdAt)))).toBe(false);
      }
      const text = response.body;
      for (const secret of [account.refreshToken, phone.refreshToken, laptop.cookies[REFRESH], laptop.cookies[ACCESS]]) expect(text).not.toContain(secret.split('.').pop());

      // Seen from the laptop, the laptop is current; revoked sessions drop out of the list.
      await t.inject({ method: 'DELETE', url: `/v1/auth/sessions/${phoneSid}`, headers: account.auth });
      const fromLaptop = (await t.inject({ method: 'GET', url: '/v1/auth/sessions', headers: { cookie: laptop.cookie } })).json().data as Array<Record<string, unknown>>;
      expect(fromLaptop).toHaveLength(2);
      expect(fromLaptop.find((session) => session.current)).toMatchObject({ client: 'web', ip: '198.51.100.23' });
    }, TEST_TIMEOUT_MS);
  });

  describe('several businesses', () => {
    it('switches between two businesses of one user; login with businessId picks it, without picks the most recent', async () => {
      const user = await signup(t, { businessName: 'First Trade Co' });
      const owner = await readyAdmin(t, { businessName: 'Second Trade Co' });
      const joined = await inviteAndAccept(t, owner, user, 'viewer');
      expect(joined).toMatchObject({ businessId: owner.businessId, userId: user.userId, role: 'viewer' });

      const businesses = (await me(user.auth)).json().businesses as Array<{ id: string; role: string }>;
      expect(businesses.map((business) => business.id).sort()).toEqual([user.businessId, owner.businessId].sort());

      const switched = await t.inject({ method: 'POST', url: '/v1/auth/switch', headers: user.auth, payload: { businessId: owner.businessId } });
      expect(switched.statusCode).toBe(200);
      const second = switched.json();
      expect(second).toMatchObject({ businessId: owner.businessId, role: 'viewer', userId: user.userId });
      expect(second.accessToken).toEqual(expect.any(String)); // the mobile session stays mobile
      const view = (await me(bearer(second.accessToken))).json();
      expect(view).toMatchObject({ business: { id: owner.businessId, name: 'Second Trade Co' }, role: 'viewer' });
      // The session it replaced is over; its role cannot follow into the other business.
      expect((await me(user.auth)).statusCode).toBe(401);
      const members = await t.inject({ method: 'GET', url: '/v1/members', headers: bearer(second.accessToken) });
      expect(members.statusCode).toBe(200);
      const invite = await t.inject({ method: 'POST', url: '/v1/members/invitations', headers: bearer(second.accessToken), payload: { email: uniqueEmail(), role: 'admin' } });
      expect(invite.statusCode).toBe(403);

      // Not a member → 404, no new session.
      const stranger = await signup(t);
      const notMine = await t.inject({ method: 'POST', url: '/v1/auth/switch', headers: bearer(second.accessToken), payload: { businessId: stranger.businessId } });
      expect(notMine.statusCode).toBe(404);
      expect((await me(bearer(second.accessToken))).statusCode).toBe(200);

      // Back to the first: admin there.
      const back = await t.inject({ method: 'POST', url: '/v1/auth/switch', headers: bearer(second.accessToken), payload: { businessId: user.businessId } });
      expect(back.json()).toMatchObject({ businessId: user.businessId, role: 'admin' });

      const pick = async (businessId?: string) => mobileLogin(t, user, businessId ? { businessId } : {});
      expect(await pick(owner.businessId)).toMatchObject({ businessId: owner.businessId, role: 'viewer' });
      expect(await pick()).toMatchObject({ businessId: owner.businessId, role: 'viewer' });
      expect(await pick(user.businessId)).toMatchObject({ businessId: user.businessId, role: 'admin' });
      expect(await pick()).toMatchObject({ businessId: user.businessId, role: 'admin' });
      const foreignBusiness = await login(t, { email: user.email, password: user.password, businessId: stranger.businessId, client: 'mobile' });
      expect(foreignBusiness.statusCode).toBe(401);
    }, TEST_TIMEOUT_MS);
  });

  describe('expiry', () => {
    it.each([['idle_expires_at'], ['absolute_expires_at']])('a session whose %s has passed refuses its access token and its refresh token', async (column) => {
      const account = await signup(t);
      const session = await mobileLogin(t, account);
      const sid = decodeJwt(session.accessToken).payload.sid;
      expect((await me(session.auth)).statusCode).toBe(200);
      await raw.db.query(`UPDATE sessions SET ${column} = now() - interval '1 minute' WHERE id = $1`, [sid]);
      expect((await me(session.auth)).statusCode).toBe(401);
      expect((await refresh(session.refreshToken)).statusCode).toBe(401);
      // Only that session: the signup session of the same user is live.
      expect((await me(account.auth)).statusCode).toBe(200);
      const listed = (await t.inject({ method: 'GET', url: '/v1/auth/sessions', headers: account.auth })).json().data as Array<{ id: string }>;
      expect(listed.map((item) => item.id)).not.toContain(sid);
    }, TEST_TIMEOUT_MS);

    it('refresh never extends a session past its absolute expiry', async () => {
      const account = await signup(t);
      const sid = decodeJwt(account.accessToken).payload.sid;
      await raw.db.query(`UPDATE sessions SET absolute_expires_at = now() + interval '1 hour' WHERE id = $1`, [sid]);
      const rotated = await refresh(account.refreshToken);
      expect(rotated.statusCode).toBe(200);
      const { rows } = await raw.db.query(`SELECT idle_expires_at <= absolute_expires_at AS capped FROM sessions WHERE id = $1`, [sid]);
      expect(rows[0].capped).toBe(true);
    }, TEST_TIMEOUT_MS);
  });
});
