import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsOptional, IsString, IsUUID, Length, Max, MaxLength, Min, ValidateIf, ValidateNested } from 'class-validator';
import { IsCalendarDate } from '../common/validation/is-calendar-date.js';
import { MAX_FREE_TEXT, MAX_LINES } from './document-lines.js';
import { INVOICE_STATUSES } from './invoice-view.js';
import { IsNumberOrString, LineDto } from './line.dto.js';

const AMOUNT_SCHEMA = { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^(0|[1-9][0-9]*)$' }] };

export class CreateInvoiceDto {
  @ApiProperty({ format: 'uuid' }) @IsUUID() customerId: string;
  @ApiProperty({ example: 'EUR', description: 'ISO 4217 code' }) @IsString() @Length(3, 3) currency: string;
  @ApiPropertyOptional({ format: 'date', description: 'defaults to today (UTC)' }) @IsOptional() @IsCalendarDate() issueDate?: string;
  @ApiPropertyOptional({ format: 'date', description: 'give dueDate or netDays (default: the business default, 30 days)' }) @IsOptional() @IsCalendarDate() dueDate?: string;
  @ApiPropertyOptional({ minimum: 0, maximum: 365 }) @IsOptional() @IsInt() @Min(0) @Max(365) netDays?: number;
  @ApiProperty({ type: [LineDto], minItems: 1, maxItems: MAX_LINES })
  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(MAX_LINES) @ValidateNested({ each: true }) @Type(() => LineDto) lines: LineDto[];
  @ApiPropertyOptional({ ...AMOUNT_SCHEMA, description: 'document discount in minor units, spread over the lines before tax' }) @IsOptional() @IsNumberOrString() discount?: number | string;
  @ApiPropertyOptional({ maxLength: MAX_FREE_TEXT }) @IsOptional() @IsString() @MaxLength(MAX_FREE_TEXT) notes?: string;
  @ApiPropertyOptional({ maxLength: MAX_FREE_TEXT }) @IsOptional() @IsString() @MaxLength(MAX_FREE_TEXT) terms?: string;
}

/** Partial update; `null` clears notes or terms. The currency can change only while a draft. */
export class UpdateInvoiceDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() customerId?: string;
  @ApiPropertyOptional({ example: 'EUR' }) @IsOptional() @IsString() @Length(3, 3) currency?: string;
  @ApiPropertyOptional({ format: 'date' }) @IsOptional() @IsCalendarDate() issueDate?: string;
  @ApiPropertyOptional({ format: 'date' }) @IsOptional() @IsCalendarDate() dueDate?: string;
  @ApiPropertyOptional({ minimum: 0, maximum: 365 }) @IsOptional() @IsInt() @Min(0) @Max(365) netDays?: number;
  @ApiPropertyOptional({ type: [LineDto], minItems: 1, maxItems: MAX_LINES })
  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(MAX_LINES) @ValidateNested({ each: true }) @Type(() => LineDto) lines?: LineDto[];
  @ApiPropertyOptional(AMOUNT_SCHEMA) @IsOptional() @IsNumberOrString() discount?: number | string;
  @ApiPropertyOptional({ maxLength: MAX_FREE_TEXT, nullable: true }) @ValidateIf((_, value) => value !== null && value !== undefined) @IsString() @MaxLength(MAX_FREE_TEXT) notes?: string | null;
  @ApiPropertyOptional({ maxLength: MAX_FREE_TEXT, nullable: true }) @ValidateIf((_, value) => value !== null && value !== undefined) @IsString() @MaxLength(MAX_FREE_TEXT) terms?: string | null;
}

export class VoidInvoiceDto {
  @ApiProperty({ minLength: 1, maxLength: 500 }) @IsString() @Length(1, 500) reason: string;
}

export class CreditNoteDto {
  @ApiPropertyOptional({ type: [LineDto], description: 'give lines or amount' })
  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(MAX_LINES) @ValidateNested({ each: true }) @Type(() => LineDto) lines?: LineDto[];
  @ApiPropertyOptional({ ...AMOUNT_SCHEMA, description: 'tax-inclusive amount in minor units; the tax part is in proportion to the invoice' }) @IsOptional() @IsNumberOrString() amount?: number | string;
  @ApiProperty({ minLength: 1, maxLength: 1000 }) @IsString() @Length(1, 1000) reason: string;
}

export const INVOICE_SORTS = ['createdAt', '-createdAt', 'issueDate', '-issueDate', 'dueDate', '-dueDate'] as const;
export type InvoiceSort = (typeof INVOICE_SORTS)[number];

export class ListInvoicesQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(200) limit?: number;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) cursor?: string;
  @ApiPropertyOptional({ enum: [...INVOICE_STATUSES, 'overdue'] }) @IsOptional() @IsIn([...INVOICE_STATUSES, 'overdue']) status?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() customerId?: string;
  @ApiPropertyOptional({ format: 'date', description: 'issue date on or after' }) @IsOptional() @IsCalendarDate() from?: string;
  @ApiPropertyOptional({ format: 'date', description: 'issue date on or before' }) @IsOptional() @IsCalendarDate() to?: string;
  @ApiPropertyOptional({ description: 'invoice number or its beginning' }) @IsOptional() @IsString() @Length(1, 40) q?: string;
  @ApiPropertyOptional({ enum: INVOICE_SORTS, default: '-createdAt' }) @IsOptional() @IsIn(INVOICE_SORTS) sort?: InvoiceSort;
}

export class ExportInvoicesQuery {
  @ApiProperty({ format: 'date', description: 'issue date on or after' }) @IsCalendarDate() from: string;
  @ApiProperty({ format: 'date', description: 'issue date on or before' }) @IsCalendarDate() to: string;
}
