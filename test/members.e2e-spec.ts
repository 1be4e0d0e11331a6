import { startTestApp, type TestApp } from './harness/app.js';
import { enrollMfa, lastEmailTo, readyAdmin, strongPassword, uniqueEmail, type TestAccount } from './harness/identity.js';

describe('members, invitations and roles', () => {
  let t: TestApp;
  let owner: TestAccount;

  beforeAll(async () => {
    t = await startTestApp();
    owner = await readyAdmin(t, { businessName: 'Ace Plumbing' });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function invitationToken(email: string): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const email_ = await lastEmailTo(t, email, 'invitation');
      const match = email_?.text_body.match(/invitation code: (\S+)/);
      if (match) return match[1];
      if (Date.now() > deadline) throw new Error('no invitation email');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function invite(email: string, role: string, by: TestAccount = owner) {
    return t.inject({ method: 'POST', url: '/v1/members/invitations', headers: by.auth, payload: { email, role } });
  }

  async function join(role: 'admin' | 'billing' | 'viewer'): Promise<TestAccount> {
    const email = uniqueEmail(role);
    expect((await invite(email, role)).statusCode).toBe(201);
    const password = strongPassword();
    const accepted = await t.inject({ method: 'POST', url: '/v1/auth/invitations/accept', payload: { token: await invitationToken(email), name: `${role} person`, password } });
    expect(accepted.statusCode).toBe(201);
    const login = await t.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password, client: 'mobile' }, remoteAddress: `10.1.0.${Math.floor(Math.random() * 250)}` });
    expect(login.statusCode).toBe(200);
    const body = login.json();
    const account: TestAccount = { email, password, userId: body.userId, businessId: body.businessId, accessToken: body.accessToken, refreshToken: body.refreshToken, auth: { authorization: `Bearer ${body.accessToken}` } };
    return role === 'viewer' ? account : enrollMfa(t, account);
  }

  it('an admin invites by email; the invitee accepts once with the emailed token and joins with that role', async () => {
    const email = uniqueEmail('billing');
    const response = await invite(email.toUpperCase(), 'billing');
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ email, role: 'billing' });
    const expiresInDays = (new Date(response.json().expiresAt).getTime() - Date.now()) / 86_400_000;
    expect(expiresInDays).toBeGreaterThan(6.9);
    expect(expiresInDays).toBeLessThanOrEqual(7);
    const token = await invitationToken(email);
    const payload = { token, name: 'Bea Billing', password: strongPassword() };
    const accepted = await t.inject({ method: 'POST', url: '/v1/auth/invitations/accept', payload });
    expect(accepted.statusCode).toBe(201);
    expect(accepted.json()).toMatchObject({ businessId: owner.businessId, role: 'billing' });
    const again = await t.inject({ method: 'POST', url: '/v1/auth/invitations/accept', payload });
    expect(again.statusCode).toBe(401);
    const members = await t.inject({ method: 'GET', url: '/v1/members', headers: owner.auth });
    expect(members.json().data.map((member: { email: string; role: string }) => [member.email, member.role])).toEqual(
      expect.arrayContaining([[owner.email, 'admin'], [email, 'billing']]),
    );
    const { rows } = await t.db.query(`SELECT action FROM audit_events WHERE business_id = $1 AND action IN ('member.invited', 'member.joined')`, [owner.businessId]);
    expect(rows.map((row: { action: string }) => row.action)).toEqual(expect.arrayContaining(['member.invited', 'member.joined']));
  });

  it('refuses an expired invitation', async () => {
    const email = uniqueEmail('late');
    await invite(email, 'viewer');
    const token = await invitationToken(email);
    await t.db.query(`UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE email = $1`, [email]);
    const response = await t.inject({ method: 'POST', url: '/v1/auth/invitations/accept', payload: { token, name: 'Late', password: strongPassword() } });
    expect(response.statusCode).toBe(401);
  });

  it('billing and viewer cannot invite or change roles; viewer can read the member list', async () => {
    const billing = await join('billing');
    const viewer = await join('viewer');
    for (const account of [billing, viewer]) {
      const response = await invite(uniqueEmail('x'), 'viewer', account);
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('role_not_allowed');
      const patch = await t.inject({ method: 'PATCH', url: `/v1/members/${owner.userId}`, headers: account.auth, payload: { role: 'viewer' } });
      expect(patch.statusCode).toBe(403);
    }
    expect((await t.inject({ method: 'GET', url: '/v1/members', headers: viewer.auth })).statusCode).toBe(200);
  });

  it('a role change applies to the member’s next request', async () => {
    const billing = await join('billing');
    const changed = await t.inject({ method: 'PATCH', url: `/v1/members/${billing.userId}`, headers: owner.auth, payload: { role: 'admin' } });
    expect(changed.statusCode).toBe(200);
    expect(changed.json().role).toBe('admin');
    // Admin-only route now allowed with the same access token: the role is read from the membership.
    expect((await invite(uniqueEmail('y'), 'viewer', billing)).statusCode).toBe(201);
    const { rows } = await t.db.query(`SELECT detail FROM audit_events WHERE action = 'member.role_changed' AND entity_id = $1`, [billing.userId]);
    expect(rows[0].detail).toEqual({ from: 'billing', to: 'admin' });
  });

  it('the last admin can be neither demoted nor removed', async () => {
    const solo = await readyAdmin(t, { businessName: 'Solo Sparks' });
    const demote = await t.inject({ method: 'PATCH', url: `/v1/members/${solo.userId}`, headers: solo.auth, payload: { role: 'billing' } });
    expect(demote.statusCode).toBe(409);
    expect(demote.json().code).toBe('last_admin');
    const remove = await t.inject({ method: 'DELETE', url: `/v1/members/${solo.userId}`, headers: solo.auth });
    expect(remove.statusCode).toBe(409);
    const { rows } = await t.db.query('SELECT role FROM memberships WHERE business_id = $1', [solo.businessId]);
    expect(rows).toEqual([{ role: 'admin' }]);
  });

  it('removing a member revokes their sessions in this business at once', async () => {
    const viewer = await join('viewer');
    expect((await t.inject({ method: 'GET', url: '/v1/members', headers: viewer.auth })).statusCode).toBe(200);
    const removed = await t.inject({ method: 'DELETE', url: `/v1/members/${viewer.userId}`, headers: owner.auth });
    expect(removed.statusCode).toBe(204);
    expect((await t.inject({ method: 'GET', url: '/v1/members', headers: viewer.auth })).statusCode).toBe(401);
    const refresh = await t.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: viewer.refreshToken } });
    expect(refresh.statusCode).toBe(401);
  });

  it('refuses a malformed invitation with 400 naming the field', async () => {
    const response = await t.inject({ method: 'POST', url: '/v1/members/invitations', headers: owner.auth, payload: { email: 'not-an-email', role: 'owner' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors.map((error: { field: string }) => error.field)).toEqual(expect.arrayContaining(['email', 'role']));
  });
});
