import { counterKeys } from './rate-limit.js';

describe('rate-limit counter keys', () => {
  const secret = 'a-jwt-secret-of-at-least-thirty-two-bytes-000';

  it('stores a keyed hash of the key: the same in every process, never the address it names', () => {
    const stored = counterKeys(secret)('pages:ip:198.51.100.77');
    expect(stored).toBe(counterKeys(secret)('pages:ip:198.51.100.77'));
    expect(stored).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(stored).not.toContain('198.51');
  });

  it('keeps keys apart, and depends on the secret (a plain hash of every IPv4 address could be tried)', () => {
    const keys = counterKeys(secret);
    expect(keys('pages:ip:198.51.100.77')).not.toBe(keys('pages:ip:198.51.100.78'));
    expect(keys('pages:ip:198.51.100.77')).not.toBe(keys('pay-actions:ip:198.51.100.77'));
    expect(counterKeys(`${secret}x`)('pages:ip:198.51.100.77')).not.toBe(keys('pages:ip:198.51.100.77'));
  });
});
