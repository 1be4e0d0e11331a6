import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsDefined, IsIn, IsInt, IsObject, IsOptional, IsString, IsUUID, Max, MaxLength, Min, ValidateIf, ValidateNested } from 'class-validator';
import { MAX_LIMIT } from '../common/pagination/cursor.js';
import { MAX_FREE_TEXT, MAX_LINES } from './document-lines.js';
import { IsNumberOrString, LineDto } from './line.dto.js';

export const RECURRING_STATUSES = ['active', 'paused'] as const;
export type RecurringStatus = (typeof RECURRING_STATUSES)[number];

/** Optional, but `null` is refused (for fields where null would mean nothing). */
const Present = (): PropertyDecorator => ValidateIf((_object, value) => value !== undefined);

const DATE_SCHEMA = { type: 'string', format: 'date', example: '2026-01-31' } as const;

/**
 * The schedule as sent on create. Only types are checked here; the values (ranges, real dates,
 * dayOfMonth on monthly schedules only, endDate not before startDate) are checked by
 * `validateSchedule`, and the service reports its problems as `schedule.<field>`.
 */
export class ScheduleDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: 52, description: '1–52 for weeks, 1–24 for months' }) @IsInt() every: number;
  @ApiProperty({ enum: ['week', 'month'] }) @IsString() unit: string;
  @ApiProperty({ ...DATE_SCHEMA, description: 'No occurrence is earlier than this date.' }) @IsString() startDate: string;
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 31, nullable: true, description: 'Monthly only; clamped to the month’s last day (31 → Feb 28/29). Defaults to startDate’s day.' })
  @IsOptional()
  @IsInt()
  dayOfMonth?: number | null;
  @ApiPropertyOptional({ ...DATE_SCHEMA, nullable: true, description: 'Last possible occurrence date, inclusive.' }) @IsOptional() @IsString() endDate?: string | null;
  @ApiPropertyOptional({ type: 'integer', minimum: 1, nullable: true, description: 'Total number of occurrences. With endDate too, whichever ends first.' })
  @IsOptional()
  @IsInt()
  count?: number | null;
}

/** A schedule in a PATCH: merged into the stored one; `null` removes dayOfMonth, endDate or count. */
export class PatchScheduleDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 52 }) @Present() @IsInt() every?: number;
  @ApiPropertyOptional({ enum: ['week', 'month'] }) @Present() @IsString() unit?: string;
  @ApiPropertyOptional(DATE_SCHEMA) @Present() @IsString() startDate?: string;
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 31, nullable: true }) @IsOptional() @IsInt() dayOfMonth?: number | null;
  @ApiPropertyOptional({ ...DATE_SCHEMA, nullable: true }) @IsOptional() @IsString() endDate?: string | null;
  @ApiPropertyOptional({ type: 'integer', minimum: 1, nullable: true }) @IsOptional() @IsInt() count?: number | null;
}

const AMOUNT_SCHEMA = { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^(0|[1-9][0-9]*)$' }] };

export class CreateRecurringInvoiceDto {
  @ApiProperty({ format: 'uuid' }) @IsUUID() customerId: string;
  @ApiProperty({ example: 'EUR', description: 'ISO 4217 code' }) @IsString() currency: string;
  @ApiProperty({ type: [LineDto], minItems: 1, maxItems: MAX_LINES })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_LINES)
  @ValidateNested({ each: true })
  @Type(() => LineDto)
  lines: LineDto[];
  @ApiPropertyOptional({ ...AMOUNT_SCHEMA, default: 0, description: 'Document discount in minor units, spread over the lines before tax.' }) @Present() @IsNumberOrString() discount?: number | string;
  @ApiPropertyOptional({ maxLength: MAX_FREE_TEXT, nullable: true }) @IsOptional() @IsString() @MaxLength(MAX_FREE_TEXT) notes?: string | null;
  @ApiPropertyOptional({ maxLength: MAX_FREE_TEXT, nullable: true }) @IsOptional() @IsString() @MaxLength(MAX_FREE_TEXT) terms?: string | null;
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 365, default: 30, description: 'Days from issue to due date of each generated invoice.' })
  @Present()
  @IsInt()
  @Min(0)
  @Max(365)
  netDays?: number;
  @ApiProperty({ type: ScheduleDto }) @IsDefined() @IsObject() @ValidateNested() @Type(() => ScheduleDto) schedule: ScheduleDto;
  @ApiPropertyOptional({ default: false, description: 'Send each generated invoice to the customer at once (otherwise it waits as a draft).' }) @Present() @IsBoolean() autoSend?: boolean;
}

/** Any of the create fields; `lines` replaces all lines; `schedule` is merged field by field. */
export class UpdateRecurringInvoiceDto {
  @ApiPropertyOptional({ format: 'uuid' }) @Present() @IsUUID() customerId?: string;
  @ApiPropertyOptional({ example: 'EUR' }) @Present() @IsString() currency?: string;
  @ApiPropertyOptional({ type: [LineDto], minItems: 1, maxItems: MAX_LINES })
  @Present()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_LINES)
  @ValidateNested({ each: true })
  @Type(() => LineDto)
  lines?: LineDto[];
  @ApiPropertyOptional(AMOUNT_SCHEMA) @Present() @IsNumberOrString() discount?: number | string;
  @ApiPropertyOptional({ maxLength: MAX_FREE_TEXT, nullable: true, description: 'null removes the notes' }) @IsOptional() @IsString() @MaxLength(MAX_FREE_TEXT) notes?: string | null;
  @ApiPropertyOptional({ maxLength: MAX_FREE_TEXT, nullable: true, description: 'null removes the terms' }) @IsOptional() @IsString() @MaxLength(MAX_FREE_TEXT) terms?: string | null;
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 365 }) @Present() @IsInt() @Min(0) @Max(365) netDays?: number;
  @ApiPropertyOptional({ type: PatchScheduleDto }) @Present() @IsObject() @ValidateNested() @Type(() => PatchScheduleDto) schedule?: PatchScheduleDto;
  @ApiPropertyOptional() @Present() @IsBoolean() autoSend?: boolean;
}

const toInteger = ({ value }: { value: unknown }): unknown => (typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value);

export class ListRecurringInvoicesQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: 50 }) @IsOptional() @Transform(toInteger) @IsInt() @Min(1) @Max(MAX_LIMIT) limit?: number;
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' }) @IsOptional() @IsString() @MaxLength(512) cursor?: string;
  @ApiPropertyOptional({ enum: RECURRING_STATUSES }) @IsOptional() @IsIn(RECURRING_STATUSES) status?: RecurringStatus;
}

/** Both are required; they are checked after the template is found, so a foreign id is always 404. */
export class OccurrencesQueryDto {
  @ApiProperty({ ...DATE_SCHEMA, description: 'First day of the range, inclusive' }) @IsOptional() @IsString() @MaxLength(32) from?: string;
  @ApiProperty({ ...DATE_SCHEMA, description: 'Last day of the range, inclusive; at most 366 days after from' }) @IsOptional() @IsString() @MaxLength(32) to?: string;
}
