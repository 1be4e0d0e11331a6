import { totpAt } from '../src/auth/totp.js';
import { startTestApp, type TestApp } from './harness/app.js';
import {
  auditEventsFor,
  bearer,
  freshIp,
  fromFreshIps,
  inviteAndAccept,
  lastEmailTo,
  login,
  mobileLogin,
  nextTotp,
  readyAdmin,
  signup,
  strongPassword,
  uniqueEmail,
  wrongTotp,
  type TestAccount,
} from './harness/identity.js';

// bcrypt (cost 12) makes sign-ins slow on a busy 2-core machine: well above Jest's 5 s default.
const TEST_TIMEOUT_MS = 30_000;

/**
 * Two-factor authentication (TOTP enrolment, replay protection, recovery codes, disabling),
 * the business's requireMfa rule, the soft lockout after repeated failures, and the audit trail.
 */
describe('auth: MFA, lockout and their audit trail', () => {
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

  /** Setup + enable with the current code: returns the secret and the recovery codes. */
  async function enroll(account: TestAccount): Promise<{ secret: string; recoveryCodes: string[] }> {
    const setup = await t.inject({ method: 'POST', url: '/v1/auth/mfa/setup', headers: account.auth });
    expect(setup.statusCode).toBe(200);
    const secret = setup.json().secret as string;
    const enable = await t.inject({ method: 'POST', url: '/v1/auth/mfa/enable', headers: account.auth, payload: { code: totpAt(secret, Date.now()) } });
    expect(enable.statusCode).toBe(200);
    return { secret, recoveryCodes: enable.json().recoveryCodes };
  }

  async function failLogins(account: { email: string; password: string }, count: number): Promise<void> {
    for (let i = 0; i < count; i += 1) {
      const response = await login(t, { email: account.email, password: `${account.password}-wrong-${i}`, client: 'mobile' });
      expect(response.statusCode).toBe(401);
    }
  }

  async function lockoutEmails(email: string): Promise<number> {
    const { rows } = await raw.db.query(`SELECT count(*)::int AS n FROM emails WHERE to_address = $1 AND template = 'securityAlert' AND subject LIKE '%too many failed sign-ins%'`, [email]);
    return rows[0].n;
  }

  describe('enrolment', () => {
    it('setup returns an otpauth URI and the secret, and stores the secret encrypted', async () => {
      const account = await signup(t);
      const response = await t.inject({ method: 'POST', url: '/v1/auth/mfa/setup', headers: account.auth });
      expect(response.statusCode).toBe(200);
      const { secret, otpauthUri } = response.json() as { secret: string; otpauthUri: string };
      expect(secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits, base32
      const uri = new URL(otpauthUri);
      expect(uri.protocol).toBe('otpauth:');
      expect(uri.host).toBe('totp');
      expect(decodeURIComponent(uri.pathname)).toBe(`/Ledgerline:${account.email}`);
      expect(Object.fromEntries(uri.searchParams)).toEqual({ secret, issuer: 'Ledgerline', algorithm: 'SHA1', digits: '6', period: '30' });

      const { rows } = await raw.db.query('SELECT mfa_pending_secret, mfa_secret, mfa_enabled_at FROM users WHERE id = $1', [account.userId]);
      expect(rows[0].mfa_pending_secret).toEqual(expect.any(String));
      expect(rows[0].mfa_pending_secret).not.toContain(secret);
      expect(rows[0].mfa_pending_secret.toUpperCase()).not.toContain(secret);
      expect(rows[0].mfa_secret).toBeNull();
      expect(rows[0].mfa_enabled_at).toBeNull();
      expect((await me(account.auth)).json().user.mfaEnabled).toBe(false);
      expect(raw.rawLogs()).not.toContain(secret);
    }, TEST_TIMEOUT_MS);

    it('enable: a wrong code → 401, the right code → 10 one-time recovery codes; the secret stays encrypted', async () => {
      const account = await signup(t);
      const secret = (await t.inject({ method: 'POST', url: '/v1/auth/mfa/setup', headers: account.auth })).json().secret as string;

      const wrong = await t.inject({ method: 'POST', url: '/v1/auth/mfa/enable', headers: account.auth, payload: { code: wrongTotp(secret) } });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().code).toBe('invalid_mfa_code');
      expect((await me(account.auth)).json().user.mfaEnabled).toBe(false);

      const right = await t.inject({ method: 'POST', url: '/v1/auth/mfa/enable', headers: account.auth, payload: { code: totpAt(secret, Date.now()) } });
      expect(right.statusCode).toBe(200);
      const codes = right.json().recoveryCodes as string[];
      expect(codes).toHaveLength(10);
      expect(new Set(codes).size).toBe(10);
      for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
      expect((await me(account.auth)).json().user.mfaEnabled).toBe(true);

      const { rows } = await raw.db.query('SELECT mfa_secret, mfa_pending_secret FROM users WHERE id = $1', [account.userId]);
      expect(rows[0].mfa_secret).toEqual(expect.any(String));
      expect(rows[0].mfa_secret).not.toContain(secret);
      expect(rows[0].mfa_pending_secret).toBeNull();
      const stored = await raw.db.query('SELECT encode(code_hash, $2) AS hash FROM mfa_recovery_codes WHERE user_id = $1', [account.userId, 'escape']);
      expect(stored.rows).toHaveLength(10);
      for (const code of codes) expect(JSON.stringify(stored.rows)).not.toContain(code.replace('-', ''));

      const again = await t.inject({ method: 'POST', url: '/v1/auth/mfa/setup', headers: account.auth });
      expect(again.statusCode).toBe(409);
    }, TEST_TIMEOUT_MS);
  });

  describe('signing in with MFA', () => {
    it('without a code → 401 mfa_required; a wrong code → 401; a correct TOTP → 200; the same TOTP again → 401', async () => {
      const account = await signup(t);
      const { secret } = await enroll(account);
      const noCode = await login(t, { email: account.email, password: account.password, client: 'mobile' });
      expect(noCode.statusCode).toBe(401);
      expect(noCode.json().code).toBe('mfa_required');
      const wrong = await login(t, { email: account.email, password: account.password, mfaCode: wrongTotp(secret), client: 'mobile' });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().code).toBe('invalid_credentials');
      // A right code with a wrong password does not get in either (and does not burn the code).
      const code = nextTotp(secret);
      expect((await login(t, { email: account.email, password: `${account.password}x`, mfaCode: code, client: 'mobile' })).statusCode).toBe(401);

      const ok = await login(t, { email: account.email, password: account.password, mfaCode: code, client: 'mobile' });
      expect(ok.statusCode).toBe(200);
      expect((await me(bearer(ok.json().accessToken))).json().user.mfaEnabled).toBe(true);
      const replay = await login(t, { email: account.email, password: account.password, mfaCode: code, client: 'mobile' });
      expect(replay.statusCode).toBe(401);
      expect(replay.json().code).toBe('invalid_credentials');
    }, TEST_TIMEOUT_MS);

    it('a recovery code works once (typed in any case, with or without the dash)', async () => {
      const account = await signup(t);
      const { recoveryCodes } = await enroll(account);
      const withCode = (mfaCode: string) => login(t, { email: account.email, password: account.password, mfaCode, client: 'mobile' });
      expect((await withCode(recoveryCodes[0])).statusCode).toBe(200);
      expect((await withCode(recoveryCodes[0])).statusCode).toBe(401);
      expect((await withCode(recoveryCodes[0].toUpperCase().replace('-', ' '))).statusCode).toBe(401);
      expect((await withCode(recoveryCodes[1].toUpperCase().replace('-', ''))).statusCode).toBe(200);
      expect((await withCode(recoveryCodes[1])).statusCode).toBe(401);
      const { rows } = await raw.db.query('SELECT count(*)::int AS n FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL', [account.userId]);
      expect(rows[0].n).toBe(8);
    }, TEST_TIMEOUT_MS);

    it('disabling needs the password and a code', async () => {
      const account = await signup(t);
      const { secret } = await enroll(account);
      const disable = (password: string, code: string) => t.inject({ method: 'POST', url: '/v1/auth/mfa/disable', headers: account.auth, payload: { password, code } });
      const code = nextTotp(secret);
      expect((await disable(`${account.password}x`, code)).statusCode).toBe(401);
      expect((await disable(account.password, wrongTotp(secret))).statusCode).toBe(401);
      expect((await t.inject({ method: 'POST', url: '/v1/auth/mfa/disable', headers: account.auth, payload: { password: account.password } })).statusCode).toBe(400);
      expect((await me(account.auth)).json().user.mfaEnabled).toBe(true);

      expect((await disable(account.password, code)).statusCode).toBe(204);
      expect((await me(account.auth)).json().user.mfaEnabled).toBe(false);
      const { rows } = await raw.db.query('SELECT mfa_secret, mfa_enabled_at FROM users WHERE id = $1', [account.userId]);
      expect(rows[0]).toEqual({ mfa_secret: null, mfa_enabled_at: null });
      expect((await login(t, { email: account.email, password: account.password, client: 'mobile' })).statusCode).toBe(200);
      const alert = await lastEmailTo(raw, account.email, 'securityAlert');
      expect(alert?.subject).toMatch(/two-factor authentication was turned off/);
    }, TEST_TIMEOUT_MS);
  });

  describe('requireMfa', () => {
    it('blocks admin and billing members without MFA from all but enrolment, logout and me; never a viewer; an admin can turn it off', async () => {
      const owner = await readyAdmin(t, { businessName: 'Strict Ltd' });
      expect((await t.inject({ method: 'GET', url: '/v1/settings', headers: owner.auth })).json()).toMatchObject({ name: 'Strict Ltd', requireMfa: true });

      const people = { admin: { email: uniqueEmail('admin2'), password: strongPassword() }, billing: { email: uniqueEmail('billing'), password: strongPassword() }, viewer: { email: uniqueEmail('viewer'), password: strongPassword() } };
      for (const role of ['admin', 'billing', 'viewer'] as const) await inviteAndAccept(t, owner, people[role], role);
      const admin = await mobileLogin(t, people.admin);
      const billing = await mobileLogin(t, people.billing);
      const viewer = await mobileLogin(t, people.viewer);

      const blockedRoutes = [
        { method: 'GET', url: '/v1/members' },
        { method: 'GET', url: '/v1/settings' },
        { method: 'PATCH', url: '/v1/settings', payload: { requireMfa: false } },
        { method: 'POST', url: '/v1/members/invitations', payload: { email: uniqueEmail(), role: 'viewer' } },
      ] as const;
      for (const route of blockedRoutes) {
        const response = await t.inject({ ...route, headers: admin.auth });
        expect({ ...route, status: response.statusCode, code: response.json().code }).toEqual({ ...route, status: 403, code: 'mfa_enrollment_required' });
      }
      const billingMembers = await t.inject({ method: 'GET', url: '/v1/members', headers: billing.auth });
      expect(billingMembers.statusCode).toBe(403);
      expect(billingMembers.json().code).toBe('mfa_enrollment_required');

      // What stays open: who am I, enrolment, logout.
      expect((await me(admin.auth)).statusCode).toBe(200);
      expect((await t.inject({ method: 'POST', url: '/v1/auth/mfa/setup', headers: admin.auth })).statusCode).toBe(200);
      const extra = await mobileLogin(t, people.admin);
      expect((await t.inject({ method: 'POST', url: '/v1/auth/logout', headers: extra.auth, payload: { refreshToken: extra.refreshToken } })).statusCode).toBe(204);

      // A viewer is never blocked.
      expect((await t.inject({ method: 'GET', url: '/v1/members', headers: viewer.auth })).statusCode).toBe(200);
      expect((await t.inject({ method: 'GET', url: '/v1/settings', headers: viewer.auth })).statusCode).toBe(200);
      expect((await raw.db.query('SELECT require_mfa FROM businesses WHERE id = $1', [owner.businessId])).rows[0].require_mfa).toBe(true);

      // The owner (enrolled) turns the rule off: it applies at once to existing sessions.
      const off = await t.inject({ method: 'PATCH', url: '/v1/settings', headers: owner.auth, payload: { requireMfa: false } });
      expect(off.statusCode).toBe(200);
      expect(off.json()).toMatchObject({ name: 'Strict Ltd', requireMfa: false });
      expect((await t.inject({ method: 'GET', url: '/v1/members', headers: admin.auth })).statusCode).toBe(200);
      expect((await t.inject({ method: 'GET', url: '/v1/members', headers: billing.auth })).statusCode).toBe(200);
      // The role model still applies: billing cannot change settings.
      expect((await t.inject({ method: 'PATCH', url: '/v1/settings', headers: billing.auth, payload: { requireMfa: true } })).statusCode).toBe(403);

      // And back on.
      expect((await t.inject({ method: 'PATCH', url: '/v1/settings', headers: owner.auth, payload: { requireMfa: true } })).json().requireMfa).toBe(true);
      expect((await t.inject({ method: 'GET', url: '/v1/members', headers: admin.auth })).statusCode).toBe(403);
      expect((await auditEventsFor(raw, owner.userId, 'business.settings_changed')).length).toBe(2);
    }, TEST_TIMEOUT_MS);
  });

  describe('lockout', () => {
    it('10 failures in 15 minutes: the right password alone is refused until locked_until passes; one email', async () => {
      const account = await signup(t);
      const before = await login(t, { email: account.email, password: account.password, client: 'mobile' });
      expect(before.statusCode).toBe(200); // the password is right: the refusals below are the lock
      await failLogins(account, 9);
      expect((await raw.db.query('SELECT locked_until FROM users WHERE id = $1', [account.userId])).rows[0].locked_until).toBeNull();
      expect(await lockoutEmails(account.email)).toBe(0);
      await failLogins(account, 1);
      const { rows } = await raw.db.query(`SELECT locked_until > now() + interval '14 minutes' AS locked FROM users WHERE id = $1`, [account.userId]);
      expect(rows[0].locked).toBe(true);

      const wrongPassword = await login(t, { email: account.email, password: `${account.password}-nope`, client: 'mobile' });
      const locked = await login(t, { email: account.email, password: account.password, client: 'mobile' });
      expect(locked.statusCode).toBe(401);
      expect(locked.body).toBe(wrongPassword.body); // a lock reveals nothing about the password
      expect((await login(t, { email: account.email, password: account.password, mfaCode: '123456', client: 'mobile' })).statusCode).toBe(401);
      expect((await login(t, { email: account.email, password: account.password })).statusCode).toBe(401);

      expect(await lockoutEmails(account.email)).toBe(1);
      const mail = await lastEmailTo(raw, account.email, 'securityAlert');
      expect(mail?.text_body).toMatch(/10 failed attempts/);
      expect((await auditEventsFor(raw, account.userId, 'auth.lockout')).length).toBe(1);

      // Time passes (the lock ends): the right password works again and the counter starts over.
      await raw.db.query(`UPDATE users SET locked_until = now() - interval '1 second' WHERE id = $1`, [account.userId]);
      expect((await login(t, { email: account.email, password: account.password, client: 'mobile' })).statusCode).toBe(200);
      const counters = await raw.db.query('SELECT failed_login_count, locked_until FROM users WHERE id = $1', [account.userId]);
      expect(counters.rows[0]).toEqual({ failed_login_count: 0, locked_until: null });
      expect(await lockoutEmails(account.email)).toBe(1);
    }, TEST_TIMEOUT_MS);

    it('failures spread beyond 15 minutes do not lock', async () => {
      const account = await signup(t);
      await failLogins(account, 9);
      await raw.db.query(`UPDATE users SET failed_login_since = now() - interval '16 minutes' WHERE id = $1`, [account.userId]);
      await failLogins(account, 1);
      expect((await login(t, { email: account.email, password: account.password, client: 'mobile' })).statusCode).toBe(200);
      expect(await lockoutEmails(account.email)).toBe(0);
    }, TEST_TIMEOUT_MS);

    it('with MFA enrolled, a valid TOTP still gets in while locked', async () => {
      const account = await signup(t);
      const { secret } = await enroll(account);
      await failLogins(account, 10);
      expect((await raw.db.query('SELECT locked_until > now() AS locked FROM users WHERE id = $1', [account.userId])).rows[0].locked).toBe(true);
      const noCode = await login(t, { email: account.email, password: account.password, client: 'mobile' });
      expect(noCode.statusCode).toBe(401);
      const ok = await login(t, { email: account.email, password: account.password, mfaCode: nextTotp(secret), client: 'mobile' });
      expect(ok.statusCode).toBe(200);
      expect(await lockoutEmails(account.email)).toBe(1);
    }, TEST_TIMEOUT_MS);
  });

  describe('audit trail', () => {
    it('records login success and failure, lockout, MFA enable and disable and password change, with IP and user agent', async () => {
      const ua = { 'user-agent': 'LedgerlineAuditProbe/1.0' };
      const ips = new Set<string>();
      const send = (request: { method: 'POST'; url: string; payload: Record<string, unknown>; headers?: Record<string, string> }) => {
        const ip = freshIp();
        ips.add(ip);
        return raw.inject({ ...request, headers: { ...ua, ...request.headers }, remoteAddress: ip });
      };
      const password = strongPassword();
      const email = uniqueEmail('audited');
      const created = await send({ method: 'POST', url: '/v1/auth/signup', payload: { businessName: 'Audit Co', name: 'Aud Itor', email, password, client: 'mobile' } });
      const userId = created.json().user.id as string;
      const auth = bearer(created.json().accessToken);

      expect((await send({ method: 'POST', url: '/v1/auth/login', payload: { email, password: `${password}x`, client: 'mobile' } })).statusCode).toBe(401);
      expect((await send({ method: 'POST', url: '/v1/auth/login', payload: { email, password, client: 'mobile' } })).statusCode).toBe(200);
      const secret = (await send({ method: 'POST', url: '/v1/auth/mfa/setup', headers: auth, payload: {} })).json().secret as string;
      expect((await send({ method: 'POST', url: '/v1/auth/mfa/enable', headers: auth, payload: { code: totpAt(secret, Date.now()) } })).statusCode).toBe(200);
      expect((await send({ method: 'POST', url: '/v1/auth/mfa/disable', headers: auth, payload: { password, code: nextTotp(secret) } })).statusCode).toBe(204);
      const newPassword = strongPassword();
      expect((await send({ method: 'POST', url: '/v1/auth/password/change', headers: auth, payload: { currentPassword: password, newPassword } })).statusCode).toBe(200);
      for (let i = 0; i < 10; i += 1) await send({ method: 'POST', url: '/v1/auth/login', payload: { email, password: `wrong-${i}-${password}`, client: 'mobile' } });
      await send({ method: 'POST', url: '/v1/auth/login', payload: { email: uniqueEmail('stranger'), password, client: 'mobile' } });

      const events = await auditEventsFor(raw, userId);
      const count = (action: string) => events.filter((event) => event.action === action).length;
      expect({
        succeeded: count('auth.login.succeeded'),
        failed: count('auth.login.failed'),
        lockout: count('auth.lockout'),
        mfaEnabled: count('auth.mfa.enabled'),
        mfaDisabled: count('auth.mfa.disabled'),
        passwordChanged: count('auth.password.changed'),
      }).toEqual({ succeeded: 1, failed: 11, lockout: 1, mfaEnabled: 1, mfaDisabled: 1, passwordChanged: 1 });
      for (const event of events) {
        expect({ action: event.action, ipKnown: ips.has(String(event.ip)), userAgent: event.user_agent }).toEqual({ action: event.action, ipKnown: true, userAgent: ua['user-agent'] });
      }
      expect(events.find((event) => event.action === 'auth.login.failed')?.detail).toMatchObject({ reason: 'password', knownAccount: true });
      expect(events.find((event) => event.action === 'auth.password.changed')?.detail).toMatchObject({ sessionsRevoked: 2 });
      const serialized = JSON.stringify(events);
      for (const secretValue of [password, newPassword, secret]) expect(serialized).not.toContain(secretValue);

      const unknown = await raw.db.query(`SELECT detail FROM audit_events WHERE action = 'auth.login.failed' AND entity_id IS NULL AND user_agent = $1`, [ua['user-agent']]);
      expect(unknown.rows.map((row) => row.detail)).toEqual([{ reason: 'password', knownAccount: false }]);
    }, TEST_TIMEOUT_MS);
  });
});
