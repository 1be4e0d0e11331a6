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
