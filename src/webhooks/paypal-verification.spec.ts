import { generateKeyPairSync, sign } from 'node:crypto';
import { certificateUrlAllowed, readTransmission, signatureValid, transmissionFresh, transmissionMessage } from './paypal-verification.js';

describe('PayPal transmission verification', () => {
  const raw = Buffer.from('{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}');

  it('signs transmission id, time, webhook id and the unsigned CRC32 of the raw body', () => {
    // CRC32 of "hello" is 0x3610a686 = 907060870.
    expect(transmissionMessage({ transmissionId: 'abc', transmissionTime: '2026-11-20T12:00:00Z' }, 'WH-ID', Buffer.from('hello'))).toBe('abc|2026-11-20T12:00:00Z|WH-ID|907060870');
  });

  it('verifies RSA-SHA256 signatures and refuses anything else', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const message = transmissionMessage({ transmissionId: 'abc', transmissionTime: '2026-11-20T12:00:00Z' }, 'WH-ID', raw);
    const signature = sign('sha256', Buffer.from(message), privateKey).toString('base64');
    expect(signatureValid(message, signature, publicKey)).toBe(true);
    expect(signatureValid(`${message}x`, signature, publicKey)).toBe(false);
    expect(signatureValid(message, signature, other.publicKey)).toBe(false);
    expect(signatureValid(message, 'not base64!', publicKey)).toBe(false);
    expect(signatureValid(message, '', publicKey)).toBe(false);
  });

  it('refuses transmissions more than 5 minutes old or ahead', () => {
    const now = Date.parse('2026-11-20T12:00:00Z');
    expect(transmissionFresh('2026-11-20T11:56:00Z', now)).toBe(true);
    expect(transmissionFresh('2026-11-20T12:04:00Z', now)).toBe(true);
    expect(transmissionFresh('2026-11-20T11:54:00Z', now)).toBe(false);
    expect(transmissionFresh('2026-11-20T12:06:00Z', now)).toBe(false);
    expect(transmissionFresh('yesterday', now)).toBe(false);
  });

  it('needs all five transmission headers', () => {
    const headers = {
      'paypal-transmission-id': 'abc',
      'paypal-transmission-time': '2026-11-20T12:00:00Z',
      'paypal-transmission-sig': 'c2ln',
      'paypal-cert-url': 'https://api.paypal.com/v1/notifications/certs/CERT-1',
      'paypal-auth-algo': 'SHA256withRSA',
    };
    expect(readTransmission(headers)).toEqual({ transmissionId: 'abc', transmissionTime: '2026-11-20T12:00:00Z', signature: 'c2ln', certUrl: headers['paypal-cert-url'], authAlgo: 'SHA256withRSA' });
    for (const name of Object.keys(headers)) expect(readTransmission({ ...headers, [name]: undefined })).toBeUndefined();
    expect(readTransmission({ ...headers, 'paypal-cert-url': ['a', 'b'] })).toBeUndefined();
  });

  describe('certificate URLs', () => {
    const production = { production: true, apiBase: 'http://127.0.0.1:9999' };
    const development = { production: false, apiBase: 'http://127.0.0.1:9999' };
    it.each<[string, boolean, boolean]>([
      ['https://api.paypal.com/v1/notifications/certs/CERT-1', true, true],
      ['https://api-m.paypal.com/v1/notifications/certs/CERT-1', true, true],
      ['https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1', true, true],
      ['https://api-m.sandbox.paypal.com:443/v1/notifications/certs/CERT-1', true, true],
      ['http://api.paypal.com/v1/notifications/certs/CERT-1', false, false],
      ['https://api.paypal.com.evil.test/v1/notifications/certs/CERT-1', false, false],
      ['https://evil.test/v1/notifications/certs/CERT-1', false, false],
      ['https://api.paypal.com:8443/v1/notifications/certs/CERT-1', false, false],
      ['https://user@api.paypal.com/v1/notifications/certs/CERT-1', false, false],
      ['https://api.paypal.com/v1/other', false, false],
      ['https://api.paypal.com/v1/notifications/certs/../../oauth2/token', false, false],
      ['http://127.0.0.1:9999/v1/notifications/certs/CERT-test', false, true],
      ['http://127.0.0.1:9998/v1/notifications/certs/CERT-test', false, false],
      ['not a url', false, false],
    ])('%s: production %s, elsewhere %s', (url, inProduction, elsewhere) => {
      expect(certificateUrlAllowed(url, production)).toBe(inProduction);
      expect(certificateUrlAllowed(url, development)).toBe(elsewhere);
    });
  });
});
