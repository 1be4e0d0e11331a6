import { camelKey, exportRow } from './export-format.js';

describe('export format', () => {
  it('camel-cases columns, formats dates and bytes, and drops credentials and ciphertext', () => {
    const row = {
      id: 'c-1', created_at: new Date('2026-11-30T10:00:00Z'), tax_id_encrypted: 'k1:abc', password_hash: '$2b$', token_hash: Buffer.from('x'), hash: Buffer.from([1, 2]),
      billing_address: { postal_code_like: '1011', line1: 'x' }, html_body: '<p>', text_body: 'hi',
    };
    expect(exportRow(row)).toEqual({ id: 'c-1', createdAt: '2026-11-30T10:00:00.000Z', hash: '0102', billingAddress: { postal_code_like: '1011', line1: 'x' }, textBody: 'hi' });
  });

  it.each([
    ['business_id', 'businessId'],
    ['a_b_c', 'aBC'],
    ['seq', 'seq'],
  ])('camelKey(%s) is %s', (key, expected) => {
    expect(camelKey(key)).toBe(expected);
  });
});
