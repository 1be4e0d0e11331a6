import { identifyingValues, scrubTerms, scrubText } from './erasure.js';

describe('erasure helpers', () => {
  it('scrubs erased values (case-insensitively, whole and by word), email addresses and phone numbers from free text', () => {
    const values = ['Carla Customer', 'carla@example.test', '+31 20 555 0101', 'NL123B01'];
    expect(scrubText('Request from CARLA customer (carla@example.test, +31 20 555 0101), tax id NL123B01.', values)).toBe('Request from [erased] ([erased], [erased]), tax id [erased].');
    expect(scrubText('Carla called again', values)).toBe('[erased] called again');
    expect(scrubText('someone.else@elsewhere.example asked', [])).toBe('[erased] asked');
    expect(scrubText('call 0612345678 tomorrow', [])).toBe('call [erased] tomorrow');
    expect(scrubText('deletion request of 2026-11-30', [])).toBe('deletion request of 2026-11-30');
    expect(scrubText('see INV-2026-0001', [])).toBe('see INV-2026-0001');
  });

  it('can leave numbers alone (email subjects keep their invoice numbers)', () => {
    expect(scrubText('Invoice INV-2026-0001 for Carla Customer', ['Carla Customer'], { patterns: false })).toBe('Invoice INV-2026-0001 for [erased]');
  });

  it('treats regular-expression characters in values literally and ignores very short values', () => {
    expect(scrubText('a (b) c', ['(b)'])).toBe('a [erased] c');
    expect(scrubText('Al is here', ['Al'])).toBe('Al is here');
    expect(scrubTerms(['Carla Customer', null, undefined, ' '])).toEqual(['Carla Customer', 'Customer', 'Carla']);
  });

  it('collects the identifying values of a customer row', () => {
    expect(identifyingValues({ name: 'Carla', email: 'c@x.test', phone: null, notes: 'n', billing_address: { line1: '1 Main St', city: 'Town', country: 'NL' } }, 'TAX1')).toEqual(['Carla', 'c@x.test', 'TAX1', '1 Main St', 'Town']);
  });
});
