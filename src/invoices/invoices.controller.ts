import { Readable } from 'node:stream';
import { Body, Controller, Delete, Get, Headers, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Res, StreamableFile } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from '../auth/principal.js';
import { ANY_MEMBER, BILLING_OR_ADMIN, Roles } from '../auth/roles.js';
import { etagFor } from '../common/http/etag.js';
import { Idempotent } from '../common/http/idempotency.js';
import type { Page } from '../common/pagination/cursor.js';
import { CreditNotesService, type CreditNoteView } from './credit-notes.service.js';
import { InvoiceExportsService } from './invoice-exports.service.js';
import type { InvoiceView } from './invoice-view.js';
import { CreateInvoiceDto, CreditNoteDto, ExportInvoicesQuery, ListInvoicesQuery, UpdateInvoiceDto, VoidInvoiceDto } from './invoices.dto.js';
import { InvoicesService, type InvoiceSummary, type InvoiceVersionView } from './invoices.service.js';

const uuid = new ParseUUIDPipe();

function withEtag(reply: FastifyReply, view: InvoiceView): InvoiceView {
  reply.header('etag', etagFor(view.version));
  return view;
}

@ApiTags('invoices')
@Controller('v1/invoices')
export class InvoicesController {
  constructor(
    private readonly invoices: InvoicesService,
    private readonly creditNotes: CreditNotesService,
    private readonly exports: InvoiceExportsService,
  ) {}

  @Roles(...BILLING_OR_ADMIN)
  @Idempotent()
  @Post()
  async create(@CurrentPrincipal() principal: Principal, @Body() body: CreateInvoiceDto, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceView> {
    return withEtag(reply, await this.invoices.create(principal, body, meta));
  }

  @Roles(...ANY_MEMBER)
  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListInvoicesQuery): Promise<Page<InvoiceSummary>> {
    return this.invoices.list(principal.businessId, query);
  }

  @Roles(...ANY_MEMBER)
  @Get('export.csv')
  async exportCsv(@CurrentPrincipal() principal: Principal, @Query() query: ExportInvoicesQuery, @Meta() meta: RequestMeta): Promise<StreamableFile> {
    const rows = await this.exports.csv(principal, query, meta);
    return new StreamableFile(Readable.from(rows), { type: 'text/csv; charset=utf-8', disposition: `attachment; filename="invoices-${query.from}-${query.to}.csv"` });
  }

  @Roles(...ANY_MEMBER)
  @Get(':id')
  async get(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceView> {
    return withEtag(reply, await this.invoices.get(principal, id, meta));
  }

  @Roles(...BILLING_OR_ADMIN)
  @ApiHeader({ name: 'If-Match', required: true, description: 'the ETag (version) you last read, e.g. "3"' })
  @Patch(':id')
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Body() body: UpdateInvoiceDto,
    @Meta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<InvoiceView> {
    return withEtag(reply, await this.invoices.update(principal, id, ifMatch, body, meta));
  }

  @Roles(...BILLING_OR_ADMIN)
  @Delete(':id')
  @HttpCode(204)
  async remove(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta): Promise<void> {
    await this.invoices.remove(principal, id, meta);
  }

  @Roles(...BILLING_OR_ADMIN)
  @Post(':id/finalize')
  @HttpCode(200)
  async finalize(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceView> {
    return withEtag(reply, await this.invoices.finalize(principal, id, meta));
  }

  @Roles(...BILLING_OR_ADMIN)
  @Post(':id/send')
  @HttpCode(200)
  async send(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceView> {
    return withEtag(reply, await this.invoices.send(principal, id, meta));
  }

  @Roles(...BILLING_OR_ADMIN)
  @Post(':id/void')
  @HttpCode(200)
  async void(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Body() body: VoidInvoiceDto, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceView> {
    return withEtag(reply, await this.invoices.void(principal, id, body.reason, meta));
  }

  @Roles(...ANY_MEMBER)
  @Get(':id/versions')
  versions(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string): Promise<{ data: InvoiceVersionView[] }> {
    return this.invoices.versions(principal.businessId, id);
  }

  @Roles(...BILLING_OR_ADMIN)
  @Idempotent()
  @Post(':id/credit-notes')
  createCreditNote(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Body() body: CreditNoteDto, @Meta() meta: RequestMeta): Promise<CreditNoteView> {
    return this.creditNotes.create(principal, id, body, meta);
  }

  @Roles(...ANY_MEMBER)
  @Get(':id/credit-notes')
  listCreditNotes(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string): Promise<{ data: CreditNoteView[] }> {
    return this.creditNotes.list(principal.businessId, id);
  }

  @Roles(...ANY_MEMBER)
  @Get(':id/pdf')
  async pdf(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta): Promise<StreamableFile> {
    const { filename, bytes } = await this.exports.pdf(principal, id, meta);
    return new StreamableFile(Buffer.from(bytes), { type: 'application/pdf', disposition: `attachment; filename="${filename}"`, length: bytes.byteLength });
  }
}
