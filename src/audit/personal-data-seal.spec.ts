import { isSealed, newPiiKey, openValue, sealValue } from './personal-data-seal.js';

describe('personal data sealed in audit events', () => {
  const owner = { businessId: '7b0c2a57-5d0e-4c55-8a43-1f1c4e1d2a10', customerId: '0e4b7c61-2f41-4d7e-9c3a-5b6a7d8e9f01' };

  it('opens what it sealed, only with the same key, owner and field', () => {
    const key = newPiiKey();
    const sealed = sealValue(key, owner, 'ip', '198.51.100.7');
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain('198.51');
    expect(openValue(key, owner, 'ip', sealed)).toBe('198.51.100.7');
    expect(openValue(newPiiKey(), owner, 'ip', sealed)).toBeUndefined();
    expect(openValue(key, owner, 'user_agent', sealed)).toBeUndefined();
    expect(openValue(key, { ...owner, customerId: '0e4b7c61-2f41-4d7e-9c3a-5b6a7d8e9f02' }, 'ip', sealed)).toBeUndefined();
    expect(openValue(key, { ...owner, businessId: '7b0c2a57-5d0e-4c55-8a43-1f1c4e1d2a11' }, 'ip', sealed)).toBeUndefined();
  });

  it('seals the same value differently each time (no equality leaks between events)', () => {
    const key = newPiiKey();
    expect(sealValue(key, owner, 'ip', '192.0.2.1')).not.toBe(sealValue(key, owner, 'ip', '192.0.2.1'));
  });

  it('refuses tampered and malformed values', () => {
    const key = newPiiKey();
    const sealed = sealValue(key, owner, 'user_agent', 'Mozilla/5.0 (Carla phone)');
    const [prefix, iv, ciphertext, tag] = sealed.split('.');
    const flipped = Buffer.from(ciphertext, 'base64url');
    flipped[0] ^= 1;
    expect(openValue(key, owner, 'user_agent', [prefix, iv, flipped.toString('base64url'), tag].join('.'))).toBeUndefined();
    for (const bad of ['', 'pii1', 'pii1.a.b', `pii2.${iv}.${ciphertext}.${tag}`, `pii1.${iv}.${ciphertext}.${tag}.x`, `pii1.${iv.slice(2)}.${ciphertext}.${tag}`, `pii1.${iv}.${ciphertext}.${tag}=`]) {
      expect({ bad, opened: openValue(key, owner, 'user_agent', bad) }).toEqual({ bad, opened: undefined });
    }
    expect(isSealed('192.0.2.1')).toBe(false);
    expect(isSealed(null)).toBe(false);
  });
});
