import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

@Injectable()
export class EstimatesService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}
}
