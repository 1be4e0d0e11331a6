import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

@Injectable()
export class RecurringInvoicesService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}
}
