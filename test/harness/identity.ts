import { randomBytes } from 'node:crypto';
import { totpAt } from '../../src/auth/totp.js';
import type { TestApp } from './app.js';

export interface TestAccount {
  email: string;
  password: string;
  userId: string;
  businessId: string;
  accessToken: string;
  refreshToken: string;
  mfaSecret?: string;
  /** Authorization header for this account's current access token. */
  auth: { authorization: string };
}

export function strongPassword(): string {
  return `Ledger-${randomBytes(12).toString('base64url')}`;
}

export function uniqueEmail(prefix = 'owner'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}@example.test`;
}

/** Signs up a business as a mobile client (tokens in the body). */
export async function signup(t: TestApp, overrides: Partial<{ businessName: string; name: string; email: string; password: string }> = {}): Promise<TestAccount> {
  const email = overrides.email ?? uniqueEmail();
  const password = overrides.password ?? strongPassword();
  const response = await t.inject({
    method: 'POST',
    url: '/v1/auth/signup',
    payload: { businessName: overrides.businessName ?? 'Ace Plumbing', name: overrides.name ?? 'Ada Owner', email, password, client: 'mobile' },
  });
  if (response.statusCode !== 201) throw new Error(`signup failed: ${response.statusCode} ${response.body}`);
  const body = response.json();
  return { email, password, userId: body.user.id, businessId: body.business.id, accessToken: body.accessToken, refreshToken: body.refreshToken, auth: { authorization: `Bearer ${body.accessToken}` } };
}

/** Enrolls TOTP for the account (required before admin and billing can work). */
export async function enrollMfa(t: TestApp, account: TestAccount): Promise<TestAccount> {
  const setup = await t.inject({ method: 'POST', url: '/v1/auth/mfa/setup', headers: account.auth });
  if (setup.statusCode !== 200) throw new Error(`mfa setup failed: ${setup.statusCode} ${setup.body}`);
  const secret = setup.json().secret as string;
  const enable = await t.inject({ method: 'POST', url: '/v1/auth/mfa/enable', headers: account.auth, payload: { code: totpAt(secret, Date.now()) } });
  if (enable.statusCode !== 200) throw new Error(`mfa enable failed: ${enable.statusCode} ${enable.body}`);
  return { ...account, mfaSecret: secret };
}

/** A signed-up admin with MFA enrolled: ready to use every admin route. */
export async function readyAdmin(t: TestApp, overrides: Parameters<typeof signup>[1] = {}): Promise<TestAccount> {
  return enrollMfa(t, await signup(t, overrides));
}

/** The newest captured email to an address (the capture transport stores what would be sent). */
export async function lastEmailTo(t: TestApp, to: string, template?: string): Promise<{ subject: string; text_body: string; status: string } | undefined> {
  const { rows } = await t.db.query(
    `SELECT subject, text_body, status FROM emails WHERE to_address = $1 AND ($2::text IS NULL OR template = $2) ORDER BY created_at DESC LIMIT 1`,
    [to, template ?? null],
  );
  return rows[0];
}

// ---------------------------------------------------------------------------------------------
// Helpers for the auth suites (sessions, passwords, MFA and lockout, rate limits).
// ---------------------------------------------------------------------------------------------

type InjectResponse = Awaited<ReturnType<TestApp['inject']>>;
type InjectRequest = Exclude<Parameters<TestApp['inject']>[0], string>;

let ipCounter = 0;

/** A client IP (10.x.y.z) no other call in this process has used: a fresh per-IP rate-limit budget. */
export function freshIp(): string {
  ipCounter += 1;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

/**
 * The same app, but each request that names no `remoteAddress` comes from a fresh IP, so the
 * existing helpers (signup, enrollMfa, readyAdmin) and ordinary test traffic never spend a
 * per-IP budget. Rate-limit tests use `t.inject` with explicit addresses instead.
 */
export function fromFreshIps(t: TestApp): TestApp {
  return {
    ...t,
    inject: (request) => t.inject(typeof request === 'string' ? { url: request, remoteAddress: freshIp() } : { remoteAddress: freshIp(), ...request }),
  };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** POST /v1/auth/login; `client` omitted means a web (cookie) login, as the dashboard does. */
export function login(
  t: TestApp,
  input: { email: string; password: string; mfaCode?: string; businessId?: string; client?: 'web' | 'mobile' },
  request: Partial<InjectRequest> = {},
): Promise<InjectResponse> {
  return t.inject({ method: 'POST', url: '/v1/auth/login', ...request, payload: input });
}

/** Logs in as a mobile client and returns the session's tokens; throws unless 200. */
export async function mobileLogin(t: TestApp, account: { email: string; password: string }, extra: { mfaCode?: string; businessId?: string } = {}, request: Partial<InjectRequest> = {}): Promise<{ accessToken: string; refreshToken: string; businessId: string; role: string; auth: { authorization: string } }> {
  const response = await login(t, { email: account.email, password: account.password, client: 'mobile', ...extra }, request);
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  const body = response.json();
  return { accessToken: body.accessToken, refreshToken: body.refreshToken, businessId: body.businessId, role: body.role, auth: bearer(body.accessToken) };
}

/** The raw Set-Cookie lines of a response. */
export function setCookieLines(response: InjectResponse): string[] {
  const header = response.headers['set-cookie'];
  return header === undefined ? [] : Array.isArray(header) ? header : [String(header)];
}

/** name → value of the cookies a response sets (what a browser would store). */
export function cookiesSet(response: InjectResponse): Record<string, string> {
  const jar: Record<string, string> = {};
  for (const line of setCookieLines(response)) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    jar[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
  }
  return jar;
}

export interface WebSession {
  /** The Cookie request header a browser would send back. */
  cookie: string;
  cookies: Record<string, string>;
  csrfToken: string;
  body: Record<string, unknown>;
}

/** A dashboard session from a web login or signup response (cookies + CSRF token). */
export function webSessionFrom(response: InjectResponse): WebSession {
  const cookies = cookiesSet(response);
  const body = response.json() as Record<string, unknown>;
  return {
    cookie: Object.entries(cookies).map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join('; '),
    cookies,
    csrfToken: body.csrfToken as string,
    body,
  };
}

/** Logs in as the web dashboard; throws unless 200. */
export async function webLogin(t: TestApp, account: { email: string; password: string }, extra: { mfaCode?: string; businessId?: string } = {}, request: Partial<InjectRequest> = {}): Promise<WebSession> {
  const response = await login(t, { email: account.email, password: account.password, ...extra }, request);
  if (response.statusCode !== 200) throw new Error(`web login failed: ${response.statusCode} ${response.body}`);
  return webSessionFrom(response);
}

/** Header and payload of a JWT, without verifying it. */
export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = token.split('.');
  return { header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')), payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) };
}

/**
 * A TOTP code the server has not seen yet: the next 30-second step's code (inside the ±1 step
 * window). The enrollment used the current step, and a step is only accepted once.
 */
export function nextTotp(secret: string): string {
  return totpAt(secret, Date.now() + 30_000);
}

/** A 6-digit code that matches none of the steps the server could accept right now. */
export function wrongTotp(secret: string): string {
  const now = Date.now();
  const valid = new Set([-60_000, -30_000, 0, 30_000, 60_000].map((offset) => totpAt(secret, now + offset)));
  for (let n = 0; ; n += 1) {
    const code = String(n).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}

/** Polls until `probe` yields a value (e.g. an email written by a background job). */
export async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The token an email carries ("Your reset code: …", "Your invitation code: …"). */
export function tokenIn(textBody: string, label: 'reset code' | 'invitation code'): string {
  const match = new RegExp(`Your ${label}: ([A-Za-z0-9_-]+)`).exec(textBody);
  if (!match) throw new Error(`no ${label} in email: ${textBody}`);
  return match[1];
}

export interface AuditRow {
  action: string;
  actor_type: string;
  actor_id: string | null;
  entity_type: string | null;
  entity_id: string | null;
  business_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: Record<string, unknown>;
}

/** Audit events about or by a user (actor or entity), oldest first, optionally one action. */
export async function auditEventsFor(t: TestApp, userId: string, action?: string): Promise<AuditRow[]> {
  const { rows } = await t.db.query<AuditRow>(
    `SELECT action, actor_type, actor_id, entity_type, entity_id, business_id::text, ip, user_agent, detail FROM audit_events
      WHERE (actor_id = $1 OR entity_id = $1) AND ($2::text IS NULL OR action = $2) ORDER BY id`,
    [userId, action ?? null],
  );
  return rows;
}

/**
 * An admin (with MFA) invites `email` to their business as `role`; the invited person accepts
 * with `password` (their existing one if they already have an account). Returns the business.
 */
export async function inviteAndAccept(t: TestApp, admin: TestAccount, invitee: { email: string; password: string; name?: string }, role: 'admin' | 'billing' | 'viewer'): Promise<{ businessId: string; userId: string; role: string }> {
  const invite = await t.inject({ method: 'POST', url: '/v1/members/invitations', headers: admin.auth, payload: { email: invitee.email, role } });
  if (invite.statusCode !== 201) throw new Error(`invite failed: ${invite.statusCode} ${invite.body}`);
  const email = await lastEmailTo(t, invitee.email.trim().toLowerCase(), 'invitation');
  if (!email) throw new Error('no invitation email');
  const accept = await t.inject({ method: 'POST', url: '/v1/auth/invitations/accept', payload: { token: tokenIn(email.text_body, 'invitation code'), name: invitee.name ?? 'Ivy Invitee', password: invitee.password } });
  if (accept.statusCode !== 201) throw new Error(`accept failed: ${accept.statusCode} ${accept.body}`);
  return accept.json();
}
