import { Body, Controller, Delete, Get, Headers, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from '../auth/principal.js';
import { ANY_MEMBER, BILLING_OR_ADMIN, Roles } from '../auth/roles.js';
import { etagFor } from '../common/http/etag.js';
import { Idempotent } from '../common/http/idempotency.js';
import type { Page } from '../common/pagination/cursor.js';
import type { EstimateView } from './estimate-view.js';
import { CreateEstimateDto, ListEstimatesQuery, UpdateEstimateDto } from './estimates.dto.js';
import { EstimatesService, type EstimateSummary } from './estimates.service.js';
import type { InvoiceView } from './invoice-view.js';

const uuid = new ParseUUIDPipe();

/** Answers with the estimate and its version as the ETag (send it back in If-Match to edit). */
async function tagged(reply: FastifyReply, pending: Promise<EstimateView>): Promise<EstimateView> {
  const view = await pending;
  reply.header('etag', etagFor(view.version));
  return view;
}

@ApiTags('estimates')
@Controller('v1/estimates')
export class EstimatesController {
  constructor(private readonly estimates: EstimatesService) {}

  @Roles(...BILLING_OR_ADMIN)
  @Idempotent()
  @Post()
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateEstimateDto, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<EstimateView> {
    return tagged(reply, this.estimates.create(principal, body, meta));
  }

  @Roles(...ANY_MEMBER)
  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListEstimatesQuery): Promise<Page<EstimateSummary>> {
    return this.estimates.list(principal.businessId, query);
  }

  @Roles(...ANY_MEMBER)
  @Get(':id')
  get(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<EstimateView> {
    return tagged(reply, this.estimates.get(principal, id, meta));
  }

  @Roles(...BILLING_OR_ADMIN)
  @ApiHeader({ name: 'If-Match', required: true, description: 'the ETag (version) you last read, e.g. "3"' })
  @Patch(':id')
  update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Body() body: UpdateEstimateDto,
    @Meta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<EstimateView> {
    return tagged(reply, this.estimates.update(principal, id, ifMatch, body, meta));
  }

  /** Drafts only: 204. */
  @HttpCode(204)
  @Delete(':id')
  @Roles(...BILLING_OR_ADMIN)
  remove(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta): Promise<void> {
    return this.estimates.remove(principal, id, meta);
  }

  @Roles(...BILLING_OR_ADMIN)
  @Post(':id/send')
  @HttpCode(200)
  send(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<EstimateView> {
    return tagged(reply, this.estimates.send(principal, id, meta));
  }

  @Roles(...BILLING_OR_ADMIN)
  @Post(':id/accept')
  @HttpCode(200)
  accept(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<EstimateView> {
    return tagged(reply, this.estimates.accept(principal, id, meta));
  }

  @Roles(...BILLING_OR_ADMIN)
  @Post(':id/decline')
  @HttpCode(200)
  decline(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<EstimateView> {
    return tagged(reply, this.estimates.decline(principal, id, meta));
  }

  /** 201: creates the draft invoice. With an Idempotency-Key, a retry replays the first answer instead of a 409. */
  @Roles(...BILLING_OR_ADMIN)
  @Idempotent()
  @Post(':id/convert')
  convert(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta): Promise<{ estimate: EstimateView; invoice: InvoiceView }> {
    return this.estimates.convert(principal, id, meta);
  }
}
