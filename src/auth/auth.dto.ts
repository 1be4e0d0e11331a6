import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsIn, IsNotEmpty, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { canonicalEmail } from './email.js';

// Length limits are generous for real input and stop abuse early; the password policy itself
// (12-128 characters, at most 72 bytes) is checked by the service with a clear message.
const MAX_PASSWORD_INPUT = 512;

export class SignupDto {
  @ApiProperty({ maxLength: 200 }) @IsString() @IsNotEmpty() @MaxLength(200) businessName: string;
  @ApiProperty({ maxLength: 200 }) @IsString() @IsNotEmpty() @MaxLength(200) name: string;
  // Canonicalised before @IsEmail, so "  Ada@Example.TEST " or a full-width variant of a taken
  // address is checked (and refused with 409 email_taken) as the address it stands for.
  @ApiProperty({ maxLength: 254 }) @Transform(({ value }) => (typeof value === 'string' ? canonicalEmail(value) : value)) @IsString() @IsEmail() @MaxLength(254) email: string;
  @ApiProperty({ minLength: 12, maxLength: 128, description: '12-128 characters, at most 72 bytes in UTF-8' }) @IsString() @MaxLength(MAX_PASSWORD_INPUT) password: string;
  @ApiPropertyOptional({ enum: ['web', 'mobile'] }) @IsOptional() @IsIn(['web', 'mobile']) client?: 'web' | 'mobile';
}

export class LoginDto {
  @ApiProperty() @IsString() @MaxLength(254) email: string;
  @ApiProperty() @IsString() @MaxLength(MAX_PASSWORD_INPUT) password: string;
  @ApiPropertyOptional({ description: 'TOTP code or a recovery code' }) @IsOptional() @IsString() @MaxLength(32) mfaCode?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() businessId?: string;
  @ApiPropertyOptional({ enum: ['web', 'mobile'] }) @IsOptional() @IsIn(['web', 'mobile']) client?: 'web' | 'mobile';
}

export class RefreshDto {
  @ApiPropertyOptional({ description: 'mobile clients; the dashboard sends its cookie' }) @IsOptional() @IsString() @MaxLength(200) refreshToken?: string;
}

export class LogoutDto extends RefreshDto {}

export class SwitchBusinessDto {
  @ApiProperty({ format: 'uuid' }) @IsUUID() businessId: string;
}

export class ChangePasswordDto {
  @ApiProperty() @IsString() @MaxLength(MAX_PASSWORD_INPUT) currentPassword: string;
  @ApiProperty() @IsString() @MaxLength(MAX_PASSWORD_INPUT) newPassword: string;
}

export class ForgotPasswordDto {
  @ApiProperty() @IsString() @MaxLength(254) email: string;
}

export class ResetPasswordDto {
  @ApiProperty() @IsString() @IsNotEmpty() @MaxLength(200) token: string;
  @ApiProperty() @IsString() @MaxLength(MAX_PASSWORD_INPUT) newPassword: string;
}

export class MfaCodeDto {
  @ApiProperty({ example: '123456' }) @IsString() @Matches(/^\d{6}$/, { message: 'code must be 6 digits' }) code: string;
}

export class MfaDisableDto {
  @ApiProperty() @IsString() @MaxLength(MAX_PASSWORD_INPUT) password: string;
  @ApiProperty({ description: 'TOTP code or a recovery code' }) @IsString() @IsNotEmpty() @MaxLength(32) code: string;
}

export class AcceptInvitationDto {
  @ApiProperty() @IsString() @IsNotEmpty() @MaxLength(200) token: string;
  @ApiProperty({ maxLength: 200 }) @IsString() @IsNotEmpty() @MaxLength(200) name: string;
  @ApiProperty() @IsString() @MaxLength(MAX_PASSWORD_INPUT) password: string;
}
