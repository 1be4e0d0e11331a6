import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { MAX_LIMIT } from '../common/pagination/cursor.js';

export const EMAIL_STATUSES = ['queued', 'sending', 'sent', 'captured', 'failed', 'suppressed', 'cancelled'] as const;

export class ListEmailsQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_LIMIT, default: 50 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(MAX_LIMIT) limit?: number;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) cursor?: string;
  @ApiPropertyOptional({ enum: EMAIL_STATUSES }) @IsOptional() @IsIn(EMAIL_STATUSES) status?: (typeof EMAIL_STATUSES)[number];
  @ApiPropertyOptional({ description: 'template name, e.g. invoice, reminder' }) @IsOptional() @IsString() @Matches(/^[A-Za-z]{1,40}$/) template?: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'emails about this invoice, estimate or credit note' }) @IsOptional() @IsUUID() documentId?: string;
}

export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_LIMIT, default: 50 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(MAX_LIMIT) limit?: number;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) cursor?: string;
}

export class UpdateNotificationSettingsDto {
  @ApiPropertyOptional({ description: 'ask customers for a review after they pay (needs reviewUrl)' }) @IsOptional() @IsBoolean() reviewRequestsEnabled?: boolean;
  @ApiPropertyOptional({ maxLength: 2000, nullable: true, example: 'https://g.page/r/your-business/review', description: 'https only' })
  @ValidateIf((_, value) => value !== null && value !== undefined)
  @IsString()
  @MaxLength(2000)
  reviewUrl?: string | null;
}
