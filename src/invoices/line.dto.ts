import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { buildMessage, IsInt, IsOptional, IsString, Length, ValidateBy, type ValidationOptions } from 'class-validator';
import { MAX_DESCRIPTION, type LineBody } from './document-lines.js';

export const IS_NUMBER_OR_STRING = 'isNumberOrString';

/**
 * The value is a JSON number or a string. Checks the type only: amounts and quantities are
 * checked by `computeDocument`, which knows the currency and reports e.g. `lines[2].quantity`
 * with a precise code (`not_an_integer`, `too_many_decimals`, `negative`, ...).
 */
export function IsNumberOrString(validationOptions?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: IS_NUMBER_OR_STRING,
      validator: {
        validate: (value: unknown): boolean => typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)),
        defaultMessage: buildMessage((eachPrefix) => `${eachPrefix}$property must be a number or a string`, validationOptions),
      },
    },
    validationOptions,
  );
}

const AMOUNT_SCHEMA = { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^(0|[1-9][0-9]*)$' }] };

/**
 * One document line as a client sends it, shared by invoices, estimates and recurring
 * templates (use it with `@ValidateNested({ each: true }) @Type(() => LineDto)`).
 *
 * The DTO checks shapes only, so the global ValidationPipe answers a wrong type or an unknown
 * property with the JSON path of the field (`lines[0].quantity`). The values (amounts below
 * 10^12 minor units, quantities > 0 with at most 4 decimals, tax rates 0–10000 bps, discounts
 * not above the line subtotal, no card numbers in the description) are checked by
 * `computeDocument`, which reports every problem with the same paths.
 */
export class LineDto implements LineBody {
  @ApiProperty({ minLength: 1, maxLength: MAX_DESCRIPTION, example: 'Boiler service' })
  @IsString()
  @Length(1, MAX_DESCRIPTION)
  description: string;

  @ApiProperty({
    oneOf: [{ type: 'number', minimum: 0, exclusiveMinimum: true }, { type: 'string', pattern: '^(0|[1-9][0-9]*)(\\.[0-9]{1,4})?$' }],
    description: 'A decimal greater than 0 and at most 10^9, with at most 4 decimal places ("2.5" or 2.5).',
    example: '2.5',
  })
  @IsNumberOrString()
  quantity: number | string;

  @ApiProperty({ ...AMOUNT_SCHEMA, description: 'Integer minor units of the currency per unit of quantity (1999 is 19.99 EUR).', example: 1999 })
  @IsNumberOrString()
  unitPrice: number | string;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 10_000, default: 0, description: 'Tax rate in basis points: 2000 is 20%.' })
  @IsOptional()
  @IsInt()
  taxRateBps?: number;

  @ApiPropertyOptional({ ...AMOUNT_SCHEMA, default: 0, description: 'Line discount in integer minor units, at most quantity × unitPrice.' })
  @IsOptional()
  @IsNumberOrString()
  discount?: number | string;
}
