/**
 * The one error type of the money rules. Its own module so that `currencies.ts` and `money.ts`
 * can both throw it without importing each other. `code` is stable and meant for API problem
 * details; `message` is for people and may change.
 */
export type MoneyErrorCode =
  | 'not_an_integer'
  | 'not_a_decimal'
  | 'too_many_decimals'
  | 'negative'
  | 'zero'
  | 'too_large'
  | 'unknown_currency'
  | 'invalid_tax_rate'
  | 'discount_exceeds_subtotal';

export class MoneyError extends Error {
  override readonly name = 'MoneyError';

  constructor(
    readonly code: MoneyErrorCode,
    message: string,
  ) {
    super(message);
  }
}
