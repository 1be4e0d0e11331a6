import { AppError, type FieldError } from './errors/app-error.js';
import { containsCardNumber } from './card-number-guard.js';

/** Refuses card numbers in free text: holding one would put the database in PCI DSS scope. */
export function cardNumberErrors(fields: Record<string, unknown>): FieldError[] {
  return Object.entries(fields)
    .filter(([, value]) => typeof value === 'string' && containsCardNumber(value))
    .map(([field]) => ({ field, code: 'card_number_not_allowed', message: `${field} looks like it holds a payment card number; card numbers are never stored` }));
}

/** Throws the 400 for `errors`; card numbers get their own top-level code, as the API promises. */
export function throwIfErrors(errors: FieldError[]): void {
  if (errors.length === 0) return;
  if (errors.some((error) => error.code === 'card_number_not_allowed')) {
    throw AppError.badRequest('card_number_not_allowed', 'Card numbers must never be stored: remove the card number from the text.', errors);
  }
  throw AppError.validation(errors);
}
