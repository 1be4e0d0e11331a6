import { Controller } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RecurringInvoicesService } from './recurring-invoices.service.js';

@ApiTags('recurring invoices')
@Controller('v1/recurring-invoices')
export class RecurringInvoicesController {
  constructor(private readonly recurring: RecurringInvoicesService) {}
}
