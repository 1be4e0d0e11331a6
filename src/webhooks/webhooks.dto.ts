import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export class ListWebhookEventsQuery {
  @ApiPropertyOptional({ enum: ['received', 'processed', 'failed'] }) @IsOptional() @IsIn(['received', 'processed', 'failed']) status?: 'received' | 'processed' | 'failed';
  @ApiPropertyOptional({ enum: ['stripe', 'paypal'] }) @IsOptional() @IsIn(['stripe', 'paypal']) provider?: 'stripe' | 'paypal';
  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(200) limit?: number;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) cursor?: string;
}
