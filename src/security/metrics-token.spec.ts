import { authorizesMetrics, metricsToken } from './metrics-token.js';

describe('metrics token', () => {
  const token = metricsToken('jwt-secret-of-at-least-thirty-two-bytes!!');

  it('is derived deterministically, per secret, and is not the secret', () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(metricsToken('jwt-secret-of-at-least-thirty-two-bytes!!')).toBe(token);
    expect(metricsToken('another-secret-of-at-least-thirty-two-bytes')).not.toBe(token);
  });

  it.each([
    [undefined, false],
    ['', false],
    ['Bearer', false],
    ['Basic abc', false],
    ['bearer x', false],
  ])('refuses the header %p', (header, expected) => {
    expect(authorizesMetrics(header, token)).toBe(expected);
  });

  it('accepts exactly the bearer token', () => {
    expect(authorizesMetrics(`Bearer ${token}`, token)).toBe(true);
    expect(authorizesMetrics(` Bearer ${token} `, token)).toBe(true);
    expect(authorizesMetrics(`Bearer ${token}x`, token)).toBe(false);
    expect(authorizesMetrics(`Bearer ${token.slice(1)}`, token)).toBe(false);
  });
});
