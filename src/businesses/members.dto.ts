import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsEmail, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { MAX_FORMAT_LENGTH } from '../invoices/numbering.js';
import { canonicalEmail } from '../auth/email.js';
import { ROLES, type Role } from '../auth/roles.js';

export class InviteMemberDto {
  // Canonicalised before @IsEmail, like signup.
  @ApiProperty({ maxLength: 254 }) @Transform(({ value }) => (typeof value === 'string' ? canonicalEmail(value) : value)) @IsString() @IsEmail() @MaxLength(254) email: string;
  @ApiProperty({ enum: ROLES }) @IsIn(ROLES) role: Role;
}

export class ChangeRoleDto {
  @ApiProperty({ enum: ROLES }) @IsIn(ROLES) role: Role;
}

export class UpdateSettingsDto {
  @ApiPropertyOptional({ maxLength: 200 }) @IsOptional() @IsString() @IsNotEmpty() @MaxLength(200) name?: string;
  @ApiPropertyOptional({ description: 'admin and billing members must enroll MFA (default on)' }) @IsOptional() @IsBoolean() requireMfa?: boolean;
  @ApiPropertyOptional({ example: 'INV-{YYYY}-{0000}', description: 'literal text plus {YYYY}, {YY}, {MM} and one counter such as {0000}' })
  @IsOptional() @IsString() @MaxLength(MAX_FORMAT_LENGTH) invoiceNumberFormat?: string;
  @ApiPropertyOptional({ example: 'EST-{YYYY}-{0000}' }) @IsOptional() @IsString() @MaxLength(MAX_FORMAT_LENGTH) estimateNumberFormat?: string;
  @ApiPropertyOptional({ example: 'CN-{YYYY}-{0000}' }) @IsOptional() @IsString() @MaxLength(MAX_FORMAT_LENGTH) creditNoteNumberFormat?: string;
  @ApiPropertyOptional({ minimum: 0, maximum: 365, description: 'payment term of new invoices when neither dueDate nor netDays is given' }) @IsOptional() @IsInt() @Min(0) @Max(365) defaultNetDays?: number;
  @ApiPropertyOptional({ maxLength: 1000, nullable: true, description: 'printed on invoices' }) @ValidateIf((_, value) => value !== null && value !== undefined) @IsString() @MaxLength(1000) address?: string | null;
  @ApiPropertyOptional({ maxLength: 2000, nullable: true, description: 'printed on invoices, e.g. bank transfer details' })
  @ValidateIf((_, value) => value !== null && value !== undefined) @IsString() @MaxLength(2000) paymentInstructions?: string | null;
}
