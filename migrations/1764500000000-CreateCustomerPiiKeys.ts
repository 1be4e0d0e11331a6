import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One random key per customer for the personal data they leave in the audit trail (IP address
 * and browser of link opens, PDF downloads, checkouts, estimate answers), stored wrapped with
 * ENCRYPTION_KEYS. The audit events keep only the sealed text (covered by the hash chain);
 * erasing the customer deletes this row, after which nothing can read those values again
 * (crypto-shredding, see src/audit/personal-data-seal.ts). Deleting the customer deletes it too.
 */
export class CreateCustomerPiiKeys1764500000000 implements MigrationInterface {
  name = 'CreateCustomerPiiKeys1764500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE customer_pii_keys (
        id          uuid PRIMARY KEY,
        business_id uuid NOT NULL,
        customer_id uuid NOT NULL,
        wrapped_key text NOT NULL CONSTRAINT customer_pii_keys_wrapped_key_length CHECK (length(wrapped_key) BETWEEN 1 AND 512),
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT customer_pii_keys_customer_key UNIQUE (business_id, customer_id),
        CONSTRAINT customer_pii_keys_customer_fkey FOREIGN KEY (business_id, customer_id) REFERENCES customers (business_id, id) ON DELETE CASCADE
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE customer_pii_keys');
  }
}
