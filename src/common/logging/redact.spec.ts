import { randomBytes } from 'node:crypto';
import { REDACTED, isSensitiveKey, logAddress, redact, redactString } from './redact.js';

const token = (bytes = 24): string => randomBytes(bytes).toString('base64url');
const jwt = (): string =>
  [
    Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url'),
    Buffer.from(JSON.stringify({ sub: token(8), iat: 1700000000 })).toString('base64url'),
    token(32),
  ].join('.');

describe('redact: sensitive keys', () => {
  const SENSITIVE = [
    'authorization',
    'Authorization',
    'cookie',
    'set-cookie',
    'password',
    'newPassword',
    'refreshToken',
    'client_secret',
    'x-api-key',
    'signature',
    'stripe-signature',
    'mfaCode',
  ];

  it.each(SENSITIVE)('replaces the value of "%s" at the top level', (key) => {
    const value = token();
    const out = redact({ [key]: value, invoiceId: 'inv_1' });
    expect(out[key]).toBe(REDACTED);
    expect(out.invoiceId).toBe('inv_1');
    expect(JSON.stringify(out)).not.toContain(value);
  });

  it.each(SENSITIVE)('replaces the value of "%s" deep inside objects and arrays', (key) => {
    const value = token();
    const input = { req: { headers: { [key]: value, host: 'api.example.com' } }, batch: [{ items: [{ [key]: value }] }] };
    const out = redact(input);
    expect(out.req.headers[key]).toBe(REDACTED);
    expect(out.req.headers.host).toBe('api.example.com');
    expect(out.batch[0].items[0][key]).toBe(REDACTED);
    expect(JSON.stringify(out)).not.toContain(value);
  });

  it('replaces a whole object or array held under a sensitive key', () => {
    const value = token();
    const out = redact({ cookie: { session: value }, password: [value] });
    expect(out).toEqual({ cookie: REDACTED, password: REDACTED });
  });

  it('leaves ordinary keys alone', () => {
    for (const key of ['invoiceId', 'email', 'amount', 'host', 'userAgent', 'status']) expect(isSensitiveKey(key)).toBe(false);
    const input = { invoiceId: 'inv_42', email: 'ana@example.com', amount: 12500, paid: true, note: null };
    expect(redact(input)).toEqual(input);
  });
});

describe('redact: secrets inside string values', () => {
  it.each(['4242 4242 4242 4242', '4000-0566-5566-5556', '4242424242424242', '378282246310005', '4242-4242-4242-4242-424'])(
    'hides the card-number-like run "%s"',
    (card) => {
      const out = redactString(`charge failed for card ${card} today`);
      expect(out).toContain(REDACTED);
      expect(out).toContain('charge failed for card');
      expect(out).not.toMatch(/\d{4}/);
    },
  );

  it('hides a card number held in an ordinary field', () => {
    expect(JSON.stringify(redact({ note: 'pay with 4242 4242 4242 4242 please' }))).not.toContain('4242');
  });

  it('leaves a 10-digit phone number, short digit runs and ordinary numbers alone', () => {
    for (const text of ['call 0612345678', 'call 555-123-4567', 'Invoice INV-2024-0042', 'Total 1250.00 EUR', '42']) {
      expect(redactString(text)).toBe(text);
    }
    const input = { amount: 1250000, count: 12, ratio: 0.21, phone: '+31 6 1234 5678' };
    expect(redact(input)).toEqual(input);
  });

  it.each(['Bearer', 'Basic', 'bearer'])('hides the credential after "%s"', (scheme) => {
    const credential = token();
    const out = redactString(`Authorization: ${scheme} ${credential}`);
    expect(out).not.toContain(credential);
    expect(out).toContain(scheme);
    expect(out).toContain(REDACTED);
  });

  it('hides a JWT inside a string', () => {
    const value = jwt();
    const out = redactString(`token rejected: ${value} (expired)`);
    expect(out).not.toContain(value);
    for (const part of value.split('.')) expect(out).not.toContain(part);
    expect(out).toContain('(expired)');
  });

  it('hides the t parameter of a signed link but keeps the non-secret d parameter', () => {
    const secret = token();
    const out = redactString(`GET /pay/inv_9?t=${secret}&d=20250131 200`);
    expect(out).not.toContain(secret);
    expect(out).toContain('d=20250131');
    expect(out).toContain('/pay/inv_9?t=');
  });

  it('hides token= and other secret URL parameters wherever they appear in the query', () => {
    for (const name of ['token', 'code', 'signature', 'password']) {
      const secret = token();
      const out = redactString(`https://app.example.com/reset?lang=en&${name}=${secret}#top`);
      expect(out).not.toContain(secret);
      expect(out).toContain('lang=en');
      expect(out).toContain('#top');
    }
  });

  it('leaves short harmless strings untouched', () => {
    for (const text of ['ok', 'invoice.sent', 'GET /health', 'user 17']) expect(redactString(text)).toBe(text);
    expect(redact('paid')).toBe('paid');
  });
});

describe('redact: structure', () => {
  it('does not mutate its input', () => {
    const secret = token();
    const input = { password: secret, nested: { note: `Bearer ${secret}`, list: [`?t=${secret}`] } };
    const before = structuredClone(input);
    const out = redact(input);
    expect(input).toEqual(before);
    expect(out).not.toBe(input);
    expect(out.nested).not.toBe(input.nested);
    expect(JSON.stringify(out)).not.toContain(secret);
  });

  it('redacts every element of an array', () => {
    const secrets = [token(), token()];
    const out = redact([`Bearer ${secrets[0]}`, { token: secrets[1] }, 7]);
    expect(out).toHaveLength(3);
    expect(out[2]).toBe(7);
    expect(JSON.stringify(out)).not.toContain(secrets[0]);
    expect(JSON.stringify(out)).not.toContain(secrets[1]);
  });

  it('survives a cycle and still redacts around it', () => {
    const secret = token();
    const input: Record<string, unknown> = { name: 'loop', password: secret };
    input.self = input;
    const out = redact(input);
    expect(out.name).toBe('loop');
    expect(out.password).toBe(REDACTED);
    expect(out.self).not.toBe(input);
    expect(() => JSON.stringify(out)).not.toThrow();
  });

  it('keeps (and redacts) an object that is referenced twice without a cycle', () => {
    const secret = token();
    const contact = { city: 'Utrecht', apiKey: secret };
    const out = redact({ billing: contact, shipping: contact, lines: [contact, contact] });
    const expected = { city: 'Utrecht', apiKey: REDACTED };
    expect(out).toEqual({ billing: expected, shipping: expected, lines: [expected, expected] });
    expect(JSON.stringify(out)).not.toContain(secret);
  });

  it('bounds very deep nesting', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 100; i += 1) deep = { child: deep };
    expect(() => JSON.stringify(redact(deep))).not.toThrow();
    expect(JSON.stringify(redact(deep))).not.toContain('leaf');
  });

  it('turns an Error into a plain object with its name, message, stack and code, all redacted', () => {
    const secret = token();
    const error = Object.assign(new TypeError(`upstream refused Bearer ${secret}`), { code: 'E_UPSTREAM' });
    const out = redact(error) as unknown as Record<string, unknown>;
    expect(out.type).toBe('TypeError');
    expect(out.code).toBe('E_UPSTREAM');
    expect(out.message).toContain('upstream refused Bearer');
    expect(typeof out.stack).toBe('string');
    expect(JSON.stringify(out)).not.toContain(secret);
    expect(error.message).toContain(secret);
  });

  it('redacts an Error nested under an ordinary key', () => {
    const secret = token();
    const out = redact({ err: new Error(`bad link ?t=${secret}`) });
    expect(JSON.stringify(out)).toContain('bad link');
    expect(JSON.stringify(out)).not.toContain(secret);
  });

  it('keeps dates and leaves null, undefined and empty sensitive values as they are', () => {
    const when = new Date('2025-01-31T10:00:00Z');
    const out = redact({ at: when, password: '', token: null, secret: undefined });
    expect(out.at).toEqual(when);
    expect(out).toEqual({ at: when, password: '', token: null, secret: undefined });
  });

  it('does not dump the contents of a Buffer', () => {
    const bytes = randomBytes(16);
    const out = redact({ payload: bytes });
    expect(typeof out.payload).toBe('string');
    expect(out.payload).not.toContain(bytes.toString('hex'));
  });
});

describe('redact: secrets written into free text', () => {
  it('blanks the value next to a secret-sounding name in embedded JSON, SQL and key=value text', () => {
    const secret = randomBytes(9).toString('hex');
    for (const text of [
      `body {"password":"${secret}","name":"Ada"}`,
      `WHERE token = '${secret}'`,
      `refresh_token=${secret} next`,
      `client_secret: ${secret}`,
    ]) {
      const out = redactString(text);
      expect(out).not.toContain(secret);
      expect(out).toContain(REDACTED);
    }
    expect(redactString(`body {"password":"${secret}","name":"Ada"}`)).toContain('"name":"Ada"');
  });

  it('keeps SQL that merely names a secret column', () => {
    expect(redactString('SELECT password FROM users')).toBe('SELECT password FROM users');
  });

  it('does not mistake a uuid whose first groups are digits for a card number', () => {
    const id = '12345678-1234-4123-8abc-0123456789ab';
    expect(redactString(`invoice ${id} paid`)).toBe(`invoice ${id} paid`);
    expect(redactString('card 4242 4242 4242 4242')).not.toContain('4242 4242');
  });
});

describe('logAddress', () => {
  it.each([
    ['198.51.100.77', '198.51.100.0/24'],
    ['::ffff:192.0.2.10', '192.0.2.0/24'],
    ['2001:0db8:85a3:0000:0000:8a2e:0370:7334', '2001:db8:85a3::/48'],
    ['2001:db8::1', '2001:db8:0::/48'],
    ['::1', '0:0:0::/48'],
    ['not an address', '[address]'],
  ])('keeps the network of %s, not the host (%s)', (ip, expected) => {
    expect(logAddress(ip)).toBe(expected);
  });

  it('has nothing to say about no address', () => {
    expect(logAddress(undefined)).toBeNull();
    expect(logAddress('')).toBeNull();
  });
});
