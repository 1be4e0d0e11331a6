import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { Principal, RequestMeta } from '../auth/principal.js';
import { todayUtc } from '../common/dates.js';
import { AppError } from '../common/errors/app-error.js';
import { CustomersService } from '../customers/customers.service.js';
import { CreditNotesService } from './credit-notes.service.js';
import { INVOICE_CSV_HEADER, invoiceCsvRow, toCsv } from './csv.js';
import { renderInvoicePdf } from './invoice-pdf.js';
import type { InvoiceParties } from './invoice-view.js';
import { INVOICE_COLUMNS, invoiceView, type InvoiceRow } from './invoices.repository.js';
import { InvoicesService } from './invoices.service.js';

const EXPORT_BATCH = 1000;

/** What leaves the system as a file: the invoice PDF and the accountant's CSV export. */
@Injectable()
export class InvoiceExportsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly invoices: InvoicesService,
    private readonly creditNotes: CreditNotesService,
    private readonly customers: CustomersService,
    private readonly audit: AuditService,
  ) {}

  async pdf(principal: Principal, id: string, meta: RequestMeta): Promise<{ filename: string; bytes: Uint8Array }> {
    const invoice = await this.invoices.view(principal.businessId, id);
    const [business]: Array<{ name: string; address: string | null; payment_instructions: string | null }> = await this.dataSource.query(
      'SELECT name, address, payment_instructions FROM businesses WHERE id = $1',
      [principal.businessId],
    );
    const customer = await this.customers.partyFor(principal.businessId, invoice.customerId);
    if (!customer) throw AppError.notFound('invoice_not_found', 'No such invoice.');
    const parties: InvoiceParties = { business: { name: business.name, address: business.address, paymentInstructions: business.payment_instructions }, customer };
    const bytes = await renderInvoicePdf(invoice, parties, { creditNotes: await this.creditNotes.summaries(principal.businessId, id) });
    await this.audit.recordSoon({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'invoice.pdf_downloaded', entity: { type: 'invoice', id }, detail: { number: invoice.number }, ...meta });
    return { filename: `${invoice.number ?? `draft-${id.slice(0, 8)}`}.pdf`, bytes };
  }

  /**
   * Finalised invoices (drafts are not accounting records) issued in [from, to], oldest first,
   * read in keyset batches so a large export never holds every row in memory.
   */
  async csv(principal: Principal, range: { from: string; to: string }, meta: RequestMeta): Promise<AsyncGenerator<string>> {
    // Checked and audited before the first byte is sent: a streamed response cannot turn into an error later.
    if (range.to < range.from) throw AppError.validation([{ field: 'to', code: 'range_reversed', message: 'to must not be before from' }]);
    await this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'invoice.exported', detail: { ...range, format: 'csv' }, ...meta });
    return this.csvRows(principal.businessId, range);
  }

  private async *csvRows(businessId: string, range: { from: string; to: string }): AsyncGenerator<string> {
    yield toCsv([INVOICE_CSV_HEADER]);
    const today = todayUtc();
    let after: [string, string] = ['0001-01-01', '00000000-0000-0000-0000-000000000000'];
    for (;;) {
      const rows: Array<InvoiceRow & { customer_name: string }> = await this.dataSource.query(
        `SELECT ${INVOICE_COLUMNS}, c.name AS customer_name FROM invoices i JOIN customers c ON c.business_id = i.business_id AND c.id = i.customer_id
          WHERE i.business_id = $1 AND i.status <> 'draft' AND i.issue_date BETWEEN $2::date AND $3::date AND (i.issue_date, i.id) > ($4::date, $5::uuid)
          ORDER BY i.issue_date, i.id LIMIT ${EXPORT_BATCH}`,
        [businessId, range.from, range.to, after[0], after[1]],
      );
      if (rows.length === 0) return;
      yield toCsv(rows.map((row) => invoiceCsvRow(invoiceView({ ...row, lines: [] }, today), row.customer_name)));
      if (rows.length < EXPORT_BATCH) return;
      const last = rows[rows.length - 1];
      after = [last.issue_date, last.id];
    }
  }
}
