import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import {
  authenticLink,
  buildLinkUrl,
  dayNumber,
  documentLink,
  effectiveTtlDays,
  isExpired,
  linkExpiresAt,
  parseLink,
  signLink,
  verifyLink,
  type LinkClaims,
} from './link-signing.js';

const OLD = { id: 'k1', secret: 'old-secret-0123456789abcdef0123456789abcdef' };
const NEW = { id: 'k2', secret: 'new-secret-0123456789abcdef0123456789abcdef' };
const OTHER = { id: 'k3', secret: 'someone-else-0123456789abcdef0123456789abcd' };
const ID = '0b3c2a4e-8f1d-4c5b-9a6e-1d2c3b4a5f60';
const ID2 = '0b3c2a4e-8f1d-4c5b-9a6e-1d2c3b4a5f61';
const claims: LinkClaims = { kind: 'pay', documentId: ID, linkEpoch: 0, day: 20_400 };

describe('link signing', () => {
  it('is the first 24 base64url characters (144 bits) of HMAC-SHA256 over kind, id, epoch and day', () => {
    const signature = signLink(claims, OLD);
    expect(signature).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const full = createHmac('sha256', OLD.secret).update(`ledgerline-link.v1\npay\n${ID}\n0\n20400`).digest('base64url');
    expect(signature).toBe(full.slice(0, 24));
    expect(Buffer.from(signature, 'base64url')).toHaveLength(18);
  });

  it('verifies its own signature, with the key given as an entry or a secret', () => {
    expect(verifyLink(claims, signLink(claims, OLD), [OLD])).toBe(true);
    expect(signLink(claims, OLD.secret)).toBe(signLink(claims, OLD));
  });

  it.each<[string, Partial<LinkClaims>]>([
    ['another kind (a pay link cannot open an estimate)', { kind: 'estimate' }],
    ['another document', { documentId: ID2 }],
    ['another epoch (revoked)', { linkEpoch: 1 }],
    ['another day (d cannot be moved)', { day: 20_401 }],
  ])('refuses the signature for %s', (_name, change) => {
    expect(verifyLink({ ...claims, ...change }, signLink(claims, OLD), [OLD])).toBe(false);
  });

  it('rotates: the first key signs, every key verifies; a removed key invalidates its links at once', () => {
    const before = signLink(claims, OLD);
    // Step 1: a new first key; old links still verify.
    expect(verifyLink(claims, before, [NEW, OLD])).toBe(true);
    const { url } = buildLinkUrl({ baseUrl: 'https://x.test', linkSigningKeys: [NEW, OLD] }, claims, 60);
    expect(new URL(url).searchParams.get('t')).toBe(signLink(claims, NEW));
    // Step 2: the old key removed; its links stop, the new key's links work.
    expect(verifyLink(claims, before, [NEW])).toBe(false);
    expect(verifyLink(claims, signLink(claims, NEW), [NEW])).toBe(true);
    expect(verifyLink(claims, before, [OTHER])).toBe(false);
    expect(verifyLink(claims, before, [])).toBe(false);
  });

  it('refuses any altered character of the signature', () => {
    const signature = signLink(claims, OLD);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 23 }), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), (index, char) => {
        fc.pre(signature[index] !== char);
        const altered = `${signature.slice(0, index)}${char}${signature.slice(index + 1)}`;
        return !verifyLink(claims, altered, [OLD]);
      }),
    );
  });

  it.each(['', 'short', `${'A'.repeat(23)}`, `${'A'.repeat(25)}`, `${'A'.repeat(23)}=`, `${'A'.repeat(23)}+`, `${'A'.repeat(23)}/`, `${'A'.repeat(23)}é`])('refuses the malformed signature %j without computing a MAC', (bad) => {
    expect(verifyLink(claims, bad, [OLD])).toBe(false);
  });

  it('refuses a non-string signature', () => {
    expect(verifyLink(claims, undefined as unknown as string, [OLD])).toBe(false);
    expect(verifyLink(claims, ['x'] as unknown as string, [OLD])).toBe(false);
  });

  describe('parsing', () => {
    const t = signLink(claims, OLD);
    it('reads id, t, d and e and ignores other parameters', () => {
      expect(parseLink('pay', ID, { t, d: '20400', e: '0', utm_source: 'sms' })).toEqual({ claims, signature: t });
    });
    it.each<[string, unknown, Record<string, unknown>]>([
      ['an upper-case id', ID.toUpperCase(), { t, d: '20400', e: '0' }],
      ['a non-uuid id', 'abc', { t, d: '20400', e: '0' }],
      ['a missing t', ID, { d: '20400', e: '0' }],
      ['a repeated t', ID, { t: [t, t], d: '20400', e: '0' }],
      ['a missing d', ID, { t, e: '0' }],
      ['a signed d', ID, { t, d: '+20400', e: '0' }],
      ['a d with a leading zero', ID, { t, d: '020400', e: '0' }],
      ['a fractional d', ID, { t, d: '20400.5', e: '0' }],
      ['an exponent d', ID, { t, d: '2e4', e: '0' }],
      ['a negative e', ID, { t, d: '20400', e: '-1' }],
      ['an e beyond the integer column', ID, { t, d: '20400', e: '2147483648' }],
      ['a missing e', ID, { t, d: '20400' }],
    ])('refuses %s', (_name, id, query) => {
      expect(parseLink('pay', id, query)).toBeUndefined();
    });
    it('refuses a missing query', () => {
      expect(parseLink('pay', ID, undefined)).toBeUndefined();
    });
  });

  describe('authenticLink', () => {
    const now = new Date('2025-11-08T12:00:00Z');
    const today = dayNumber(now);
    it('accepts an authentic link issued today', () => {
      const c = { ...claims, day: today };
      expect(authenticLink('pay', ID, { t: signLink(c, OLD), d: String(today), e: '0' }, [OLD], now)).toEqual({ claims: c, signature: signLink(c, OLD) });
    });
    it('refuses a link for the other kind, even with a valid signature', () => {
      const c = { ...claims, day: today };
      expect(authenticLink('estimate', ID, { t: signLink(c, OLD), d: String(today), e: '0' }, [OLD], now)).toBeUndefined();
    });
    it('refuses an issue day more than one day in the future', () => {
      const c = { ...claims, day: today + 2 };
      expect(authenticLink('pay', ID, { t: signLink(c, OLD), d: String(today + 2), e: '0' }, [OLD], now)).toBeUndefined();
      const tomorrow = { ...claims, day: today + 1 };
      expect(authenticLink('pay', ID, { t: signLink(tomorrow, OLD), d: String(today + 1), e: '0' }, [OLD], now)?.claims).toEqual(tomorrow);
    });
  });

  describe('expiry', () => {
    it('counts whole UTC days since 1970-01-01', () => {
      expect(dayNumber(new Date('1970-01-01T23:59:59Z'))).toBe(0);
      expect(dayNumber(new Date('1970-01-02T00:00:00Z'))).toBe(1);
      expect(dayNumber(new Date('2025-11-08T00:00:00Z'))).toBe(20_400);
    });
    it('works through day d + 60 and expires at the start of day d + 61', () => {
      const day = 20_400;
      expect(linkExpiresAt(day, 60).toISOString()).toBe('2026-01-08T00:00:00.000Z');
      expect(isExpired(day, 60, new Date('2026-01-07T23:59:59Z'))).toBe(false);
      expect(isExpired(day, 60, new Date('2026-01-08T00:00:00Z'))).toBe(true);
    });
    it('honours a shorter business lifetime and never a longer one', () => {
      expect(isExpired(20_400, 7, new Date('2025-11-15T12:00:00Z'))).toBe(false);
      expect(isExpired(20_400, 7, new Date('2025-11-16T00:00:00Z'))).toBe(true);
      expect(effectiveTtlDays(365)).toBe(60);
      expect(effectiveTtlDays(0)).toBe(1);
      expect(effectiveTtlDays(Number.NaN)).toBe(60);
    });
  });

  describe('documentLink', () => {
    const config = { baseUrl: 'https://pay.example.test', linkSigningKeys: [NEW, OLD] };
    it('builds /pay/<id>?t=&d=&e= signed with the first key, with its expiry', () => {
      const now = new Date('2025-11-08T15:30:00Z');
      const link = documentLink(config, { kind: 'pay', documentId: ID, linkEpoch: 3, ttlDays: 60, now });
      const url = new URL(link.url);
      expect(url.origin + url.pathname).toBe(`https://pay.example.test/pay/${ID}`);
      expect(url.searchParams.get('d')).toBe('20400');
      expect(url.searchParams.get('e')).toBe('3');
      expect(verifyLink({ kind: 'pay', documentId: ID, linkEpoch: 3, day: 20_400 }, url.searchParams.get('t')!, [NEW])).toBe(true);
      expect(link.expiresAt).toBe('2026-01-08T00:00:00.000Z');
    });
    it('builds /estimate/<id> links and honours a shorter lifetime', () => {
      const link = documentLink(config, { kind: 'estimate', documentId: ID, linkEpoch: 0, ttlDays: 14, now: new Date('2025-11-08T00:00:00Z') });
      expect(new URL(link.url).pathname).toBe(`/estimate/${ID}`);
      expect(link.expiresAt).toBe('2025-11-23T00:00:00.000Z');
    });
    it('refuses to sign without a key', () => {
      expect(() => documentLink({ baseUrl: 'https://x.test', linkSigningKeys: [] }, { kind: 'pay', documentId: ID, linkEpoch: 0, ttlDays: 60 })).toThrow('no key');
    });
  });
});
