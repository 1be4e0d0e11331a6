import { dateInKeyId, keyAge, keyFingerprint } from './key-ages.js';

describe('key ages', () => {
  it.each([
    ['k20261101', '2026-11-01'],
    ['2026-11-01', '2026-11-01'],
    ['key-20250230-a', undefined],
    ['key-20250228-a', '2025-02-28'],
    ['k1', undefined],
    ['k123456789', undefined],
    ['k19991231', undefined],
  ])('reads the date in key id %s as %s', (keyId, expected) => {
    expect(dateInKeyId(keyId)?.toISOString().slice(0, 10)).toBe(expected);
  });

  it('takes the earlier of the date in the id and first seen, and flags only the current key past 90 days', () => {
    const now = new Date('2026-11-30T00:00:00Z');
    expect(keyAge('k20260801', true, new Date('2026-11-29T00:00:00Z'), now)).toEqual({ keyId: 'k20260801', current: true, since: '2026-08-01T00:00:00.000Z', ageDays: 121, rotationDue: true });
    expect(keyAge('k20260801', false, new Date('2026-11-29T00:00:00Z'), now).rotationDue).toBe(false);
    expect(keyAge('plain', true, new Date('2026-11-01T00:00:00Z'), now)).toMatchObject({ ageDays: 29, rotationDue: false });
  });

  it('fingerprints without revealing the secret, and tells a new secret under the same id apart', () => {
    const secret = 'a-very-long-secret-value-of-forty-characters';
    const first = keyFingerprint('LINK_SIGNING_KEYS', { id: 'k1', secret });
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(first).not.toContain(secret.slice(0, 8));
    expect(keyFingerprint('LINK_SIGNING_KEYS', { id: 'k1', secret: `${secret}x` })).not.toBe(first);
    expect(keyFingerprint('ENCRYPTION_KEYS', { id: 'k1', secret })).not.toBe(first);
  });
});
