import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from '../auth/principal.js';
import { ADMIN_ONLY, Roles } from '../auth/roles.js';
import { BusinessClosureService, type ClosureResult } from './business-closure.service.js';
import { CloseBusinessDto, EraseCustomerDto, UpdateRetentionDto } from './compliance.dto.js';
import { DataRightsService, type ErasureResult } from './data-rights.service.js';
import { RetentionService, type RetentionPlan, type RetentionSettings } from './retention.service.js';

const uuid = new ParseUUIDPipe();

/** A customer's data rights (admin only): everything held about them, and erasure. */
@ApiTags('data rights')
@Controller('v1/customers')
export class DataRightsController {
  constructor(private readonly rights: DataRightsService) {}

  @Roles(...ADMIN_ONLY)
  @Get(':id/export')
  async export(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<Record<string, unknown>> {
    const document = await this.rights.exportCustomer(principal, id, meta);
    reply.header('content-disposition', `attachment; filename="customer-${id}.json"`);
    reply.header('cache-control', 'no-store');
    return document;
  }

  /** 200 with what was erased; 409 customer_already_erased; 401 reauthentication_failed; 403 without MFA. */
  @Roles(...ADMIN_ONLY)
  @Post(':id/erase')
  @HttpCode(200)
  erase(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Body() body: EraseCustomerDto, @Meta() meta: RequestMeta): Promise<ErasureResult> {
    return this.rights.eraseCustomer(principal, id, body, meta);
  }
}

/** The business as a whole (admin only): retention, the full export, closure. */
@ApiTags('business')
@Controller('v1/business')
export class BusinessComplianceController {
  constructor(
    private readonly retention: RetentionService,
    private readonly closure: BusinessClosureService,
  ) {}

  @Roles(...ADMIN_ONLY)
  @Get('retention')
  settings(@CurrentPrincipal() principal: Principal): Promise<RetentionSettings> {
    return this.retention.settings(principal.businessId);
  }

  @Roles(...ADMIN_ONLY)
  @Patch('retention')
  update(@CurrentPrincipal() principal: Principal, @Body() body: UpdateRetentionDto, @Meta() meta: RequestMeta): Promise<RetentionSettings> {
    return this.retention.updateSettings(principal, body, meta);
  }

  /** What the next scheduled purge would remove; changes nothing. */
  @Roles(...ADMIN_ONLY)
  @Get('retention/dry-run')
  dryRun(@CurrentPrincipal() principal: Principal): Promise<RetentionPlan> {
    return this.retention.dryRun(principal.businessId);
  }

  @Roles(...ADMIN_ONLY)
  @Get('export')
  async export(@CurrentPrincipal() principal: Principal, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<Record<string, unknown>> {
    const document = await this.closure.exportBusiness(principal, meta);
    reply.header('content-disposition', `attachment; filename="business-${principal.businessId}.json"`);
    reply.header('cache-control', 'no-store');
    return document;
  }

  /** 200; 409 export_first / business_closed; 401 reauthentication_failed; 403 without MFA. The caller's own session ends too. */
  @Roles(...ADMIN_ONLY)
  @Post('close')
  @HttpCode(200)
  close(@CurrentPrincipal() principal: Principal, @Body() body: CloseBusinessDto, @Meta() meta: RequestMeta): Promise<ClosureResult> {
    return this.closure.close(principal, body, meta);
  }
}
