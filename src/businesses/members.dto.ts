import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsEmail, IsIn, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
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
}
