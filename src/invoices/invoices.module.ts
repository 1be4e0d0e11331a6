import { Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module.js';
import { CreditNotesService } from './credit-notes.service.js';
import { InvoiceExportsService } from './invoice-exports.service.js';
import { InvoicesController } from './invoices.controller.js';
import { InvoicesRepository } from './invoices.repository.js';
import { InvoicesService } from './invoices.service.js';
import { RecurringInvoicesController } from './recurring-invoices.controller.js';
import { RecurringInvoicesService } from './recurring-invoices.service.js';

@Module({
  imports: [CustomersModule],
  controllers: [InvoicesController, RecurringInvoicesController],
  providers: [InvoicesRepository, InvoicesService, CreditNotesService, InvoiceExportsService, RecurringInvoicesService],
  exports: [InvoicesService],
})
export class InvoicesModule {}
