import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { MAX_LINK_TTL_DAYS, MIN_LINK_TTL_DAYS } from './link-signing.js';

export class UpdateLinkSettingsDto {
  @ApiProperty({ minimum: MIN_LINK_TTL_DAYS, maximum: MAX_LINK_TTL_DAYS, description: 'days a pay or estimate link works after the day it was made (at most 60)' })
  @IsInt() @Min(MIN_LINK_TTL_DAYS) @Max(MAX_LINK_TTL_DAYS) ttlDays: number;
}

export interface LinkSettings {
  ttlDays: number;
  maxTtlDays: number;
}

export interface DocumentOpen {
  openedAt: string;
  ip: string | null;
  userAgent: string | null;
}
