import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsCalendarDate } from '../common/validation/is-calendar-date.js';
import { IsNumberOrString } from '../invoices/line.dto.js';
import { MANUAL_METHODS, REFUND_STATUSES, type ManualMethod, type RefundStatus } from './payment-rules.js';

const AMOUNT_SCHEMA = { oneOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[1-9][0-9]*$' }], description: 'minor units of the invoice currency' };

/** A payment received outside Stripe and PayPal (cash, cheque, bank transfer). */
export class RecordPaymentDto {
  @ApiProperty(AMOUNT_SCHEMA) @IsNumberOrString() amount: number | string;
  @ApiProperty({ enum: MANUAL_METHODS }) @IsIn(MANUAL_METHODS) method: ManualMethod;
  @ApiPropertyOptional({ maxLength: 200, description: 'cheque number, bank reference…' }) @IsOptional() @IsString() @Length(1, 200) reference?: string;
  @ApiProperty({ format: 'date', description: 'the day the money arrived (not in the future)' }) @IsCalendarDate() receivedOn: string;
}

/** Records the balance due as paid; every field is optional. */
export class MarkPaidDto {
  @ApiPropertyOptional({ enum: MANUAL_METHODS, default: 'other' }) @IsOptional() @IsIn(MANUAL_METHODS) method?: ManualMethod;
  @ApiPropertyOptional({ maxLength: 200 }) @IsOptional() @IsString() @Length(1, 200) reference?: string;
  @ApiPropertyOptional({ format: 'date', description: 'defaults to today (UTC)' }) @IsOptional() @IsCalendarDate() receivedOn?: string;
}

export class RequestRefundDto {
  @ApiProperty({ ...AMOUNT_SCHEMA, description: 'minor units of the payment currency, at most what is left to refund' }) @IsNumberOrString() amount: number | string;
  @ApiProperty({ minLength: 1, maxLength: 1000 }) @IsString() @Length(1, 1000) reason: string;
}

export class RejectRefundDto {
  @ApiPropertyOptional({ maxLength: 1000 }) @IsOptional() @IsString() @MaxLength(1000) note?: string;
}

export class ListRefundsQuery {
  @ApiPropertyOptional({ enum: REFUND_STATUSES }) @IsOptional() @IsIn(REFUND_STATUSES) status?: RefundStatus;
  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(200) limit?: number;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) cursor?: string;
}

export class ReconciliationQuery {
  @ApiProperty({ example: '2026-11', description: 'calendar month (UTC), YYYY-MM' })
  @IsString()
  @Matches(/^\d{4}-(0[1-9]|1[0-2])$/, { message: 'month must be a month written as YYYY-MM' })
  month: string;
  @ApiPropertyOptional({ enum: ['json', 'csv'], description: 'or send Accept: text/csv' }) @IsOptional() @IsIn(['json', 'csv']) format?: 'json' | 'csv';
}
