import { buildMessage, ValidateBy, type ValidationOptions } from 'class-validator';
import { isIsoDate } from '../dates.js';

/** A real calendar date written as YYYY-MM-DD ("2026-02-30" and "2026-13-01" are refused). */
export function IsCalendarDate(validationOptions?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isCalendarDate',
      validator: {
        validate: (value: unknown): boolean => isIsoDate(value),
        defaultMessage: buildMessage((eachPrefix) => `${eachPrefix}$property must be a real date written as YYYY-MM-DD`, validationOptions),
      },
    },
    validationOptions,
  );
}
