import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsArray, IsBoolean, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { MAX_LIMIT } from '../common/pagination/cursor.js';
import { MAX_STAGE, MAX_STAGES, MIN_STAGE } from './reminder-schedule.js';

export class UpdateReminderSettingsDto {
  @ApiPropertyOptional({ description: 'send payment reminders at all (default on)' }) @IsOptional() @IsBoolean() enabled?: boolean;
  @ApiPropertyOptional({ type: [Number], example: [-3, 0, 7, 14], description: `days relative to the due date (${MIN_STAGE}…${MAX_STAGE}), at most ${MAX_STAGES}, no repeats` })
  @IsOptional()
  @IsArray()
  stages?: number[];
  @ApiPropertyOptional({ minimum: 0, maximum: 23, example: 9, description: 'business-local hour at which reminders go out' }) @IsOptional() @IsInt() @Min(0) @Max(23) sendHour?: number;
  @ApiPropertyOptional({ example: 'Europe/Berlin', description: 'IANA time zone of the business' }) @IsOptional() @IsString() @MaxLength(64) timeZone?: string;
}

export class UpcomingRemindersQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_LIMIT, default: 50 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(MAX_LIMIT) limit?: number;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) cursor?: string;
}
