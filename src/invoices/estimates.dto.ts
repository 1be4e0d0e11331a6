import { ApiPropertyOptional, PickType } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { IsCalendarDate } from '../common/validation/is-calendar-date.js';
import { ESTIMATE_STATUSES, type EstimateStatus } from './estimate-view.js';
import { CreateInvoiceDto, ListInvoicesQuery, UpdateInvoiceDto } from './invoices.dto.js';

/** How long an estimate is valid when neither expiryDate nor validDays is given. */
export const DEFAULT_VALID_DAYS = 30;

/** The fields an estimate shares with an invoice, with the same validation (PickType copies the decorators). */
const SHARED_FIELDS = ['customerId', 'currency', 'issueDate', 'lines', 'discount', 'notes', 'terms'] as const;

export class CreateEstimateDto extends PickType(CreateInvoiceDto, SHARED_FIELDS) {
  @ApiPropertyOptional({ format: 'date', description: `the last day the estimate can be accepted; give expiryDate or validDays (default ${DEFAULT_VALID_DAYS} days)` })
  @IsOptional() @IsCalendarDate() expiryDate?: string;
  @ApiPropertyOptional({ minimum: 0, maximum: 365, default: DEFAULT_VALID_DAYS, description: 'days from the issue date' }) @IsOptional() @IsInt() @Min(0) @Max(365) validDays?: number;
}

/** Partial update of a draft or sent estimate; `null` clears notes or terms. */
export class UpdateEstimateDto extends PickType(UpdateInvoiceDto, SHARED_FIELDS) {
  @ApiPropertyOptional({ format: 'date' }) @IsOptional() @IsCalendarDate() expiryDate?: string;
  @ApiPropertyOptional({ minimum: 0, maximum: 365, description: 'days from the issue date' }) @IsOptional() @IsInt() @Min(0) @Max(365) validDays?: number;
}

export class ListEstimatesQuery extends PickType(ListInvoicesQuery, ['limit', 'cursor', 'customerId'] as const) {
  @ApiPropertyOptional({ enum: ESTIMATE_STATUSES, description: '`expired` includes sent estimates past their expiry date' }) @IsOptional() @IsIn(ESTIMATE_STATUSES) status?: EstimateStatus;
}
