import { startTestApp, type TestApp } from './harness/app.js';
import { readyAdmin, signup } from './harness/identity.js';

describe('identity smoke', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp(); });
  afterAll(async () => { await t?.close(); });

  it('signs up, must enroll MFA, then reads members', async () => {
    const account = await signup(t);
    const blocked = await t.inject({ method: 'GET', url: '/v1/members', headers: account.auth });
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().code).toBe('mfa_enrollment_required');
    const admin = await readyAdmin(t);
    const members = await t.inject({ method: 'GET', url: '/v1/members', headers: admin.auth });
    expect(members.statusCode).toBe(200);
    expect(members.json().data).toHaveLength(1);
  });
});
