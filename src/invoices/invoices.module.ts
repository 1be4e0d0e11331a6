import { Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module.js';
import { CreditNotesService } from './credit-notes.service.js';
import { EstimatesController } from './estimates.controller.js';
import { EstimatesService } from './estimates.service.js';
import { InvoiceExportsService } from './invoice-exports.service.js';
import { InvoicesController } from './invoices.controller.js';
import { InvoicesRepository } from './invoices.repository.js';
import { InvoicesService } from './invoices.service.js';
import { RecurringInvoicesController } from './recurring-invoices.controller.js';
import { RecurringInvoicesService } from './recurring-invoices.service.js';
import { RecurringGeneration } from './recurring-generation.service.js';

@Module({
  imports: [CustomersModule],
  controllers: [InvoicesController, EstimatesController, RecurringInvoicesController],
  providers: [InvoicesRepository, InvoicesService, CreditNotesService, InvoiceExportsService, EstimatesService, RecurringInvoicesService, RecurringGeneration],
  exports: [InvoicesService, EstimatesService, InvoiceExportsService, CreditNotesService],
})
export class InvoicesModule {}
