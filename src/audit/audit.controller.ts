import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Transform, type TransformFnParams } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from '../auth/principal.js';
import { ADMIN_ONLY, BILLING_OR_ADMIN, Roles } from '../auth/roles.js';
import { MAX_LIMIT, type Page } from '../common/pagination/cursor.js';
import type { ChainVerification } from './audit-chain.js';
import { AuditTrailService, EXPORT_FORMAT, type AuditEventView } from './audit-export.js';

const queryInteger = ({ value }: TransformFnParams): unknown => (typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value);
const ACTOR_TYPES = ['user', 'system', 'customer', 'provider', 'anonymous'];

export class ListAuditEventsQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_LIMIT, default: 50 }) @IsOptional() @Transform(queryInteger) @IsInt() @Min(1) @Max(MAX_LIMIT) limit?: number;
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' }) @IsOptional() @IsString() @MaxLength(512) cursor?: string;
  @ApiPropertyOptional({ description: 'the acting user id (or other actor id)' }) @IsOptional() @IsString() @MaxLength(100) actorId?: string;
  @ApiPropertyOptional({ enum: ACTOR_TYPES }) @IsOptional() @IsIn(ACTOR_TYPES) actorType?: string;
  @ApiPropertyOptional({ description: 'an action (invoice.sent), or a family of them (invoice.*)', example: 'invoice.*' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$/, { message: 'action must look like invoice.sent or invoice.*' })
  @MaxLength(100)
  action?: string;
  @ApiPropertyOptional({ example: 'invoice' }) @IsOptional() @IsString() @MaxLength(50) entityType?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(100) entityId?: string;
  @ApiPropertyOptional({ description: 'ISO 8601 instant, inclusive' }) @IsOptional() @IsISO8601({ strict: true }) from?: string;
  @ApiPropertyOptional({ description: 'ISO 8601 instant, inclusive' }) @IsOptional() @IsISO8601({ strict: true }) to?: string;
}

/**
 * The audit trail of the caller's business. Admins see everything; billing members see their
 * own actions only; viewers are refused (the trail holds IPs and who did what).
 */
@ApiTags('audit')
@Controller('v1/audit-events')
export class AuditController {
  constructor(private readonly trail: AuditTrailService) {}

  @Roles(...BILLING_OR_ADMIN)
  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListAuditEventsQuery): Promise<Page<AuditEventView>> {
    return this.trail.list(principal, query);
  }

  /** Recomputes the chain: `{ valid, checked, firstBrokenId? }`; an empty chain is `{ valid: true, checked: 0 }`. */
  @Roles(...ADMIN_ONLY)
  @Get('verify')
  verify(@CurrentPrincipal() principal: Principal): Promise<ChainVerification> {
    return this.trail.verify(principal.businessId);
  }

  /**
   * The signed export (application/x-ndjson): event lines, then the detached signature line.
   * Check it offline: `node scripts/verify-audit-export.mjs --public-key key.pem export.jsonl`
   * (format and OpenSSL alternative in src/audit/audit-export.ts).
   */
  @Roles(...ADMIN_ONLY)
  @Get('export')
  async export(@CurrentPrincipal() principal: Principal, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const exported = await this.trail.export(principal, meta);
    reply.header('content-type', 'application/x-ndjson; charset=utf-8');
    reply.header('content-disposition', `attachment; filename="${exported.filename}"`);
    reply.header('cache-control', 'no-store');
    reply.header('x-audit-chain-head', `${exported.head.seq}:${exported.head.hash}`);
    return exported.body;
  }

  /** The Ed25519 public key that signs exports, for an auditor to keep and check exports against. */
  @Roles(...ADMIN_ONLY)
  @Get('export/public-key')
  publicKey(): { format: string; algorithm: string; keyId: string; publicKeyPem: string; publicKey: string } {
    const key = this.trail.signingKey;
    return { format: EXPORT_FORMAT, algorithm: 'Ed25519', keyId: key.keyId, publicKeyPem: key.publicKeyPem, publicKey: key.publicKeyRaw };
  }
}
