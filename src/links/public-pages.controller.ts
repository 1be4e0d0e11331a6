import { Body, Controller, Get, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Meta, type RequestMeta } from '../auth/principal.js';
import { Public } from '../auth/public.decorator.js';
import { PAGE_HEADERS } from './page-headers.js';
import { PublicPagesThrottlerGuard } from './public-pages.throttler.js';
import { PublicPagesService, type PageFormat, type PageResult } from './public-pages.service.js';
import { SameOriginGuard } from './same-origin.guard.js';

type QueryParams = Record<string, unknown>;

/** JSON for clients that ask for it and not for HTML (mobile apps); HTML for browsers and everything else. */
function formatOf(request: FastifyRequest): PageFormat {
  const accept = String(request.headers.accept ?? '').toLowerCase();
  return accept.includes('application/json') && !accept.includes('text/html') ? 'json' : 'html';
}

/** The page headers go on first, so error answers (problem+json from the filter) carry them too. */
function start(reply: FastifyReply): void {
  reply.headers(PAGE_HEADERS);
}

function send(reply: FastifyReply, result: PageResult): void {
  switch (result.type) {
    case 'html':
      reply.status(result.status).type('text/html; charset=utf-8').send(result.html);
      return;
    case 'json':
      reply.status(result.status).type('application/json; charset=utf-8').send(JSON.stringify(result.body));
      return;
    case 'pdf':
      reply.status(200).type('application/pdf').header('content-disposition', `attachment; filename="${result.filename}"`).send(Buffer.from(result.bytes));
      return;
    case 'redirect':
      reply.status(result.status ?? 303).header('location', result.location).send();
      return;
  }
}

/**
 * The customer's pages behind signed links. Public (the signed URL is the credential), rate
 * limited per IP before anything else; POSTs must also come from this origin. Not in the API
 * docs: these are pages, not API endpoints (their JSON variant mirrors the page).
 */
@ApiExcludeController()
@Controller()
@UseGuards(PublicPagesThrottlerGuard)
export class PublicPagesController {
  constructor(private readonly pages: PublicPagesService) {}

  @Public()
  @Get('pay/:invoiceId')
  async pay(@Param('invoiceId') id: string, @Query() query: QueryParams, @Meta() meta: RequestMeta, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    start(reply);
    send(reply, await this.pages.open('pay', id, query, formatOf(request), meta, request.method !== 'HEAD'));
  }

  @Public()
  @UseGuards(SameOriginGuard)
  @Post('pay/:invoiceId')
  async payAction(@Param('invoiceId') id: string, @Query() query: QueryParams, @Body() body: unknown, @Meta() meta: RequestMeta, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    start(reply);
    send(reply, await this.pages.act('pay', id, query, body, formatOf(request), meta));
  }

  @Public()
  @Get('pay/:invoiceId/pdf')
  async payPdf(@Param('invoiceId') id: string, @Query() query: QueryParams, @Meta() meta: RequestMeta, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    start(reply);
    send(reply, await this.pages.pdf(id, query, formatOf(request), meta, request.method !== 'HEAD'));
  }

  @Public()
  @Get('estimate/:estimateId')
  async estimate(@Param('estimateId') id: string, @Query() query: QueryParams, @Meta() meta: RequestMeta, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    start(reply);
    send(reply, await this.pages.open('estimate', id, query, formatOf(request), meta, request.method !== 'HEAD'));
  }

  @Public()
  @UseGuards(SameOriginGuard)
  @Post('estimate/:estimateId')
  async estimateAction(@Param('estimateId') id: string, @Query() query: QueryParams, @Body() body: unknown, @Meta() meta: RequestMeta, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    start(reply);
    send(reply, await this.pages.act('estimate', id, query, body, formatOf(request), meta));
  }
}
