import { Body, Controller, Get, Headers, HttpCode, Param, ParseUUIDPipe, Post, Query, Res, StreamableFile } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from '../auth/principal.js';
import { ADMIN_ONLY, ANY_MEMBER, BILLING_OR_ADMIN, Roles } from '../auth/roles.js';
import { etagFor } from '../common/http/etag.js';
import { Idempotent } from '../common/http/idempotency.js';
import type { Page } from '../common/pagination/cursor.js';
import type { InvoiceView } from '../invoices/invoice-view.js';
import type { PaymentView, RefundView } from './payment-views.js';
import { ListRefundsQuery, MarkPaidDto, ReconciliationQuery, RecordPaymentDto, RejectRefundDto, RequestRefundDto } from './payments.dto.js';
import { PaymentsService } from './payments.service.js';
import { reconciliationCsv, type ReconciliationReport } from './reconciliation.js';
import { ReconciliationService } from './reconciliation.service.js';
import { RefundsService } from './refunds.service.js';

const uuid = new ParseUUIDPipe();

/** Payments of an invoice: manual payments, mark-paid, and the list (HTTP only; rules in the services). */
@ApiTags('payments')
@Controller('v1')
export class PaymentsController {
  constructor(
    private readonly payments: PaymentsService,
    private readonly refunds: RefundsService,
  ) {}

  @Roles(...BILLING_OR_ADMIN)
  @Idempotent()
  @ApiHeader({ name: 'Idempotency-Key', required: true, description: 'required: a retry with the same key never records the payment twice' })
  @Post('invoices/:id/payments')
  record(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid) id: string,
    @Body() body: RecordPaymentDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Meta() meta: RequestMeta,
  ): Promise<PaymentView> {
    return this.payments.record(principal, id, body, idempotencyKey, meta);
  }

  @Roles(...ANY_MEMBER)
  @Get('invoices/:id/payments')
  list(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string): Promise<{ data: PaymentView[]; amountPaid: number; overpaymentCredit: number }> {
    return this.payments.listForInvoice(principal.businessId, id);
  }

  @Roles(...BILLING_OR_ADMIN)
  @Post('invoices/:id/mark-paid')
  @HttpCode(200)
  async markPaid(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid) id: string,
    @Body() body: MarkPaidDto,
    @Meta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<InvoiceView> {
    const view = await this.payments.markPaid(principal, id, body ?? {}, meta);
    reply.header('etag', etagFor(view.version));
    return view;
  }

  @Roles(...ANY_MEMBER)
  @Get('payments/:id')
  get(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string): Promise<PaymentView> {
    return this.payments.view(principal.businessId, id);
  }

  @Roles(...BILLING_OR_ADMIN)
  @Idempotent()
  @Post('payments/:id/refunds')
  requestRefund(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Body() body: RequestRefundDto, @Meta() meta: RequestMeta): Promise<RefundView> {
    return this.refunds.request(principal, id, body, meta);
  }
}

/** Refund requests and their maker–checker decisions. */
@ApiTags('refunds')
@Controller('v1/refunds')
export class RefundsController {
  constructor(private readonly refunds: RefundsService) {}

  @Roles(...ANY_MEMBER)
  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListRefundsQuery): Promise<Page<RefundView>> {
    return this.refunds.list(principal.businessId, query);
  }

  @Roles(...ANY_MEMBER)
  @Get(':id')
  get(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string): Promise<RefundView> {
    return this.refunds.get(principal.businessId, id);
  }

  @Roles(...ADMIN_ONLY)
  @Post(':id/approve')
  @HttpCode(200)
  approve(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta): Promise<RefundView> {
    return this.refunds.approve(principal, id, meta);
  }

  @Roles(...ADMIN_ONLY)
  @Post(':id/reject')
  @HttpCode(200)
  reject(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Body() body: RejectRefundDto, @Meta() meta: RequestMeta): Promise<RefundView> {
    return this.refunds.reject(principal, id, body?.note, meta);
  }
}

/** The monthly reconciliation report, JSON or CSV (`?format=csv` or `Accept: text/csv`). */
@ApiTags('reports')
@Controller('v1/reports')
export class ReconciliationController {
  constructor(private readonly reconciliation: ReconciliationService) {}

  @Roles(...ANY_MEMBER)
  @Get('reconciliation')
  async report(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ReconciliationQuery,
    @Headers('accept') accept: string | undefined,
    @Meta() meta: RequestMeta,
  ): Promise<ReconciliationReport | StreamableFile> {
    const csv = query.format === 'csv' || (query.format === undefined && /\btext\/csv\b/i.test(accept ?? ''));
    const report = await this.reconciliation.report(principal, query.month, csv ? 'csv' : 'json', meta);
    if (!csv) return report;
    return new StreamableFile(Buffer.from(reconciliationCsv(report), 'utf8'), { type: 'text/csv; charset=utf-8', disposition: `attachment; filename="reconciliation-${query.month}.csv"` });
  }
}
