import { Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module.js';
import { RecurringInvoicesController } from './recurring-invoices.controller.js';
import { RecurringInvoicesService } from './recurring-invoices.service.js';

@Module({
  imports: [CustomersModule],
  controllers: [RecurringInvoicesController],
  providers: [RecurringInvoicesService],
  exports: [],
})
export class InvoicesModule {}
