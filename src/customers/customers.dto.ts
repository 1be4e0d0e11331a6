import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type, type TransformFnParams } from 'class-transformer';
import { IsEmail, IsInt, IsISO31661Alpha2, IsObject, IsOptional, IsString, Length, Matches, Max, MaxLength, Min, ValidateIf, ValidateNested } from 'class-validator';
import { MAX_LIMIT } from '../common/pagination/cursor.js';

const trim = ({ value }: TransformFnParams): unknown => (typeof value === 'string' ? value.trim() : value);
// Query strings arrive as text (implicit conversion is off): a plain number becomes a number,
// anything else is left as it is for @IsInt to refuse.
const queryInteger = ({ value }: TransformFnParams): unknown => (typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value);

// Digits, spaces and + - ( ) . only, with at least one digit.
const PHONE = /^(?=.*\d)[0-9 +\-().]*$/;

export class BillingAddressDto {
  @ApiPropertyOptional({ maxLength: 200 }) @IsOptional() @Transform(trim) @IsString() @MaxLength(200) line1?: string;
  @ApiPropertyOptional({ maxLength: 200 }) @IsOptional() @Transform(trim) @IsString() @MaxLength(200) line2?: string;
  @ApiPropertyOptional({ maxLength: 200 }) @IsOptional() @Transform(trim) @IsString() @MaxLength(200) city?: string;
  @ApiPropertyOptional({ maxLength: 200 }) @IsOptional() @Transform(trim) @IsString() @MaxLength(200) region?: string;
  @ApiPropertyOptional({ maxLength: 200 }) @IsOptional() @Transform(trim) @IsString() @MaxLength(200) postalCode?: string;
  @ApiPropertyOptional({ description: 'ISO 3166-1 alpha-2, upper case', example: 'NL' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Z]{2}$/, { message: 'country must be an upper-case ISO 3166-1 alpha-2 code' })
  @IsISO31661Alpha2()
  country?: string;
}

/**
 * The optional fields shared by create and update. On create, `null` is the same as leaving the
 * field out; on update, `null` clears it.
 */
class CustomerFieldsDto {
  @ApiPropertyOptional({ maxLength: 254, nullable: true }) @IsOptional() @Transform(trim) @IsString() @IsEmail() @MaxLength(254) email?: string | null;
  @ApiPropertyOptional({ maxLength: 40, nullable: true, description: 'digits, spaces and + - ( ) .' })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MaxLength(40)
  @Matches(PHONE, { message: 'phone may hold only digits, spaces and + - ( ) .' })
  phone?: string | null;

  @ApiPropertyOptional({ type: BillingAddressDto, nullable: true, description: 'replaced as a whole on update' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => BillingAddressDto)
  billingAddress?: BillingAddressDto | null;

  @ApiPropertyOptional({ maxLength: 5000, nullable: true }) @IsOptional() @IsString() @MaxLength(5000) notes?: string | null;
  @ApiPropertyOptional({ maxLength: 64, nullable: true, description: 'stored encrypted; shown to admin and billing only' })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @Length(1, 64)
  taxId?: string | null;
}

export class CreateCustomerDto extends CustomerFieldsDto {
  @ApiProperty({ minLength: 1, maxLength: 200 }) @Transform(trim) @IsString() @Length(1, 200) name: string;
}

export class UpdateCustomerDto extends CustomerFieldsDto {
  // Optional, but never null: a customer always has a name.
  @ApiPropertyOptional({ minLength: 1, maxLength: 200 }) @ValidateIf((_object, value) => value !== undefined) @Transform(trim) @IsString() @Length(1, 200) name?: string;
}

export class ListCustomersQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_LIMIT, default: 50 }) @IsOptional() @Transform(queryInteger) @IsInt() @Min(1) @Max(MAX_LIMIT) limit?: number;
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' }) @IsOptional() @IsString() @MaxLength(512) cursor?: string;
  @ApiPropertyOptional({ maxLength: 100, description: 'matches name or email, case-insensitive substring' }) @IsOptional() @IsString() @MaxLength(100) q?: string;
}
