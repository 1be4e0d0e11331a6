import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, type TransformFnParams } from 'class-transformer';
import { IsBoolean, IsInt, IsNotEmpty, IsOptional, IsString, Length, Max, MaxLength, Min } from 'class-validator';
import { MAX_RETENTION_YEARS, MIN_RETENTION_YEARS } from './retention.service.js';

const trim = ({ value }: TransformFnParams): unknown => (typeof value === 'string' ? value.trim() : value);

/** Password and a TOTP (or recovery) code: the re-authentication of irreversible actions. */
class ReauthenticationDto {
  @ApiProperty({ description: 'your current password' }) @IsString() @IsNotEmpty() @MaxLength(200) password: string;
  @ApiProperty({ description: 'a TOTP code from your authenticator app, or an unused recovery code' }) @IsString() @IsNotEmpty() @MaxLength(32) code: string;
}

export class EraseCustomerDto extends ReauthenticationDto {
  @ApiProperty({ minLength: 1, maxLength: 1000, description: 'why (e.g. "deletion request of 2026-11-30"); values of the customer are scrubbed from it' })
  @Transform(trim)
  @IsString()
  @Length(1, 1000)
  reason: string;
}

export class CloseBusinessDto extends ReauthenticationDto {
  @ApiPropertyOptional({ maxLength: 1000 }) @IsOptional() @Transform(trim) @IsString() @MaxLength(1000) reason?: string;
  @ApiPropertyOptional({ description: 'close without having downloaded GET /v1/business/export in the last 7 days' }) @IsOptional() @IsBoolean() acknowledgeNoExport?: boolean;
}

export class UpdateRetentionDto {
  @ApiPropertyOptional({ minimum: MIN_RETENTION_YEARS, maximum: MAX_RETENTION_YEARS, description: 'years after the end of the fiscal year' })
  @IsOptional()
  @IsInt()
  @Min(MIN_RETENTION_YEARS)
  @Max(MAX_RETENTION_YEARS)
  retentionYears?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 12, description: 'the month the fiscal year ends in (its last day)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(12)
  fiscalYearEndMonth?: number;
}
