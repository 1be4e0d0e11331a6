import { captureFacts, paypalMoney } from './paypal.gateway.js';

const BUSINESS = '11111111-1111-4111-8111-111111111111';
const INVOICE = '22222222-2222-4222-8222-222222222222';

describe('PayPal resources', () => {
  it('reads a capture: ids, amounts, fee and net, our invoice reference', () => {
    expect(
      captureFacts({
        id: '8MC585209K746392H',
        status: 'COMPLETED',
        amount: { currency_code: 'EUR', value: '100.00' },
        custom_id: `${BUSINESS}:${INVOICE}`,
        seller_receivable_breakdown: { paypal_fee: { currency_code: 'EUR', value: '3.98' }, net_amount: { currency_code: 'EUR', value: '96.02' } },
        supplementary_data: { related_ids: { order_id: '5O190127TN364715T' } },
        create_time: '2026-11-20T10:00:00Z',
      }),
    ).toEqual({
      captureId: '8MC585209K746392H', orderId: '5O190127TN364715T', status: 'COMPLETED', amount: 10_000n, currency: 'EUR', fee: 398n, net: 9_602n,
      reference: { businessId: BUSINESS, invoiceId: INVOICE }, customId: `${BUSINESS}:${INVOICE}`, createTime: '2026-11-20T10:00:00Z',
    });
  });

  it.each<[string, unknown]>([
    ['no id', { amount: { currency_code: 'EUR', value: '1.00' } }],
    ['no amount', { id: 'X' }],
    ['an unknown currency', { id: 'X', amount: { currency_code: 'XXX', value: '1.00' } }],
    ['a negative amount', { id: 'X', amount: { currency_code: 'EUR', value: '-1.00' } }],
    ['not an object', 'capture'],
  ])('is not a capture with %s', (_name, resource) => {
    expect(captureFacts(resource)).toBeUndefined();
  });

  it('ignores a fee in another currency and a custom id that is not ours', () => {
    const facts = captureFacts({ id: 'X', amount: { currency_code: 'EUR', value: '1.00' }, custom_id: 'someone-else', seller_receivable_breakdown: { paypal_fee: { currency_code: 'USD', value: '0.10' } } });
    expect(facts).toMatchObject({ fee: null, reference: undefined });
  });

  it('parses money objects strictly', () => {
    expect(paypalMoney({ currency_code: 'JPY', value: '1234' })).toEqual({ amount: 1234n, currency: 'JPY' });
    expect(paypalMoney({ currency_code: 'JPY', value: '12.5' })).toBeNull();
    expect(paypalMoney({ currency_code: 'EUR', value: 12 })).toBeNull();
    expect(paypalMoney(null)).toBeNull();
  });
});
