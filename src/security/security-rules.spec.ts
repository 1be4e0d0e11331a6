import { burstKey, classify, KIND_INFO, SCANNED_ACTIONS, SECURITY_KINDS, type ScannedEvent } from './security-rules.js';

const event = (overrides: Partial<ScannedEvent>): ScannedEvent => ({
  id: '1', businessId: 'b-1', action: 'x', actorType: 'user', actorId: 'u-1', entityType: null, entityId: null, ip: null, detail: {}, ...overrides,
});

describe('security rules', () => {
  it('counts a failed login against the account and the address', () => {
    const signals = classify(event({ action: 'auth.login.failed', businessId: null, actorType: 'anonymous', entityType: 'user', entityId: 'u-9', ip: '203.0.113.5' }));
    expect(signals.map((signal) => [signal.kind, signal.mode, signal.subject, signal.ref])).toEqual([
      ['failed_logins_account', 'threshold', 'user:u-9', undefined],
      ['failed_logins_ip', 'threshold', 'ip:203.0.113.5', 'u-9'],
    ]);
    expect(signals[0].scope).toEqual({ type: 'user-businesses', userId: 'u-9' });
    // An unknown email: only the address counts.
    expect(classify(event({ action: 'auth.login.failed', ip: '203.0.113.5' })).map((signal) => signal.kind)).toEqual(['failed_logins_ip']);
  });

  it.each([
    ['auth.refresh.reuse_detected', { userId: 'u-2' }, 'refresh_token_reused'],
    ['member.role_changed', { from: 'billing', to: 'admin' }, 'admin_added'],
    ['member.role_changed', { from: 'admin', to: 'viewer' }, 'role_changed'],
    ['member.joined', { role: 'admin' }, 'admin_added'],
    ['auth.mfa.disabled', {}, 'mfa_disabled'],
    ['business.settings_changed', { requireMfa: false }, 'mfa_requirement_disabled'],
    ['invoice.voided', {}, 'documents_voided_or_deleted'],
    ['invoice.deleted', {}, 'documents_voided_or_deleted'],
    ['invoice.exported', {}, 'data_exported'],
    ['payment.refund_failed', {}, 'failed_payments_spike'],
  ])('maps %s %j to %s', (action, detail, kind) => {
    expect(classify(event({ action, detail, entityType: 'user', entityId: 'u-3' })).map((signal) => signal.kind)).toEqual([kind]);
  });

  it.each([
    ['member.joined', { role: 'billing' }],
    ['business.settings_changed', { requireMfa: true }],
    ['business.settings_changed', { changedFields: ['name'] }],
    ['invoice.sent', {}],
  ])('ignores %s %j', (action, detail) => {
    expect(classify(event({ action, detail }))).toEqual([]);
  });

  it('scans every action it classifies, and knows every kind', () => {
    for (const action of ['auth.login.failed', 'auth.refresh.reuse_detected', 'member.role_changed', 'member.joined', 'auth.mfa.disabled', 'business.settings_changed', 'invoice.voided', 'invoice.deleted', 'invoice.exported', 'payment.refund_failed']) {
      expect(SCANNED_ACTIONS).toContain(action);
    }
    for (const kind of SECURITY_KINDS) {
      expect(KIND_INFO[kind].quietMs).toBeGreaterThan(0);
      if (KIND_INFO[kind].threshold !== undefined) expect(KIND_INFO[kind].windowMs).toBeGreaterThan(0);
    }
  });

  it('groups bursts by scope, kind and subject', () => {
    expect(burstKey('b-1', 'failed_logins_account', 'user:u-1')).toBe('b-1|failed_logins_account|user:u-1');
    expect(burstKey(null, 'webhook_verification_failures', 'stripe')).toBe('platform|webhook_verification_failures|stripe');
    expect(burstKey('b-1', 'admin_added', null)).toBe('b-1|admin_added|');
  });

  it('keeps the per-address threshold below the login rate limit, so one address can reach it', () => {
    expect(KIND_INFO.failed_logins_ip.threshold).toBeLessThan(10);
  });
});
