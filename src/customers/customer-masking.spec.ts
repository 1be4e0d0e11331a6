import { maskEmail, maskPhone } from './customer-masking.js';

describe('maskEmail', () => {
  it('keeps the first character and the domain', () => {
    expect(maskEmail('jane@example.com')).toBe('j***@example.com');
    expect(maskEmail('jane.doe+invoices@mail.example.co.uk')).toBe('j***@mail.example.co.uk');
  });

  it('does not reveal the length of the local part', () => {
    expect(maskEmail('a@example.com')).toBe('a***@example.com');
    expect(maskEmail('abcdefghijklmnop@example.com')).toBe('a***@example.com');
  });

  it('keeps a whole first code point', () => {
    expect(maskEmail('😀smile@example.com')).toBe('😀***@example.com');
    expect(maskEmail('émile@example.fr')).toBe('é***@example.fr');
  });

  it('splits at the last @ (a quoted local part may contain one)', () => {
    expect(maskEmail('"a@b"@example.com')).toBe('"***@example.com');
  });

  it('never returns the local part of a value it cannot split', () => {
    expect(maskEmail('no-at-sign')).toBe('***');
    expect(maskEmail('@example.com')).toBe('***');
    expect(maskEmail('jane@')).toBe('***');
    expect(maskEmail('')).toBe('***');
  });
});

describe('maskPhone', () => {
  it('shows only the last two digits behind a fixed mask', () => {
    expect(maskPhone('+31 6 1234 5634')).toBe('*** *** **34');
    expect(maskPhone('(555) 010-9912')).toBe('*** *** **12');
    expect(maskPhone('0612345678')).toBe('*** *** **78');
  });

  it('has the same shape whatever the length or grouping', () => {
    const masked = ['+44 20 7946 0958', '020 7946 0958', '+1-202-555-0158', '12 58'].map(maskPhone);
    expect(masked).toEqual(['*** *** **58', '*** *** **58', '*** *** **58', '*** *** **58']);
  });

  it('ignores separators when picking the last two digits', () => {
    expect(maskPhone('+31 6 1234 56-3.4)')).toBe('*** *** **34');
  });

  it('shows no digit of a very short number', () => {
    expect(maskPhone('112')).toBe('*** *** ****');
    expect(maskPhone('1')).toBe('*** *** ****');
    expect(maskPhone('')).toBe('*** *** ****');
  });

  it('never contains more than two digits', () => {
    for (const phone of ['+31 6 1234 5634', '+86 138 0013 8000', '999']) {
      expect(maskPhone(phone).replace(/\D/g, '').length).toBeLessThanOrEqual(2);
    }
  });
});
