import { Body, Controller, Delete, Get, Headers, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from '../auth/principal.js';
import { ANY_MEMBER, BILLING_OR_ADMIN, Roles } from '../auth/roles.js';
import { etagFor } from '../common/http/etag.js';
import { Idempotent } from '../common/http/idempotency.js';
import type { Page } from '../common/pagination/cursor.js';
import { CreateRecurringInvoiceDto, ListRecurringInvoicesQueryDto, OccurrencesQueryDto, UpdateRecurringInvoiceDto } from './recurring-invoices.dto.js';
import { RecurringInvoicesService, type RecurringInvoiceView } from './recurring-invoices.service.js';

/** The version as a strong ETag: send it back in If-Match to PATCH. */
function withETag(reply: FastifyReply, view: RecurringInvoiceView): RecurringInvoiceView {
  reply.header('etag', etagFor(view.version));
  return view;
}

@ApiTags('recurring invoices')
@Controller('v1/recurring-invoices')
export class RecurringInvoicesController {
  constructor(private readonly recurring: RecurringInvoicesService) {}

  @Roles(...BILLING_OR_ADMIN)
  @Idempotent()
  @Post()
  @HttpCode(201)
  async create(@CurrentPrincipal() principal: Principal, @Body() body: CreateRecurringInvoiceDto, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<RecurringInvoiceView> {
    const view = withETag(reply, await this.recurring.create(principal, body, meta));
    reply.header('location', `/v1/recurring-invoices/${view.id}`);
    return view;
  }

  @Roles(...ANY_MEMBER)
  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListRecurringInvoicesQueryDto): Promise<Page<RecurringInvoiceView>> {
    return this.recurring.list(principal.businessId, query);
  }

  @Roles(...ANY_MEMBER)
  @Get(':id')
  async get(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<RecurringInvoiceView> {
    return withETag(reply, await this.recurring.get(principal.businessId, id));
  }

  @Roles(...ANY_MEMBER)
  @Get(':id/occurrences')
  occurrences(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Query() query: OccurrencesQueryDto): Promise<{ data: string[] }> {
    return this.recurring.occurrences(principal.businessId, id, query);
  }

  @Roles(...BILLING_OR_ADMIN)
  @Patch(':id')
  @ApiHeader({ name: 'If-Match', required: true, description: 'The ETag of the version being changed, e.g. "3" (428 when missing, 400 when malformed, 412 when stale)' })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: UpdateRecurringInvoiceDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Meta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RecurringInvoiceView> {
    return withETag(reply, await this.recurring.update(principal, id, body, ifMatch, meta));
  }

  @Roles(...BILLING_OR_ADMIN)
  @Post(':id/pause')
  @HttpCode(200)
  async pause(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<RecurringInvoiceView> {
    return withETag(reply, await this.recurring.setStatus(principal, id, 'paused', meta));
  }

  @Roles(...BILLING_OR_ADMIN)
  @Post(':id/resume')
  @HttpCode(200)
  async resume(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<RecurringInvoiceView> {
    return withETag(reply, await this.recurring.setStatus(principal, id, 'active', meta));
  }

  @Roles(...BILLING_OR_ADMIN)
  @Delete(':id')
  @HttpCode(204)
  async remove(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta): Promise<void> {
    await this.recurring.remove(principal, id, meta);
  }
}
