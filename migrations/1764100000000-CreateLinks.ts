import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Signed public links: each business's link lifetime (at most the 60 days the source document
 * promises; `link_epoch`, bumped by "revoke all links", is in CreateIdentity), and one row per
 * open of a document through its link, with the client's IP and user agent, for the business
 * to see. Opens are also audit events (through the audit inbox).
 */
export class CreateLinks1764100000000 implements MigrationInterface {
  name = 'CreateLinks1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE businesses
        ADD COLUMN link_ttl_days integer NOT NULL DEFAULT 60
          CONSTRAINT businesses_link_ttl_days_check CHECK (link_ttl_days BETWEEN 1 AND 60)`);
    await queryRunner.query(`
      CREATE TABLE document_opens (
        id            bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT document_opens_pkey PRIMARY KEY,
        business_id   uuid NOT NULL REFERENCES businesses(id),
        document_type text NOT NULL CONSTRAINT document_opens_document_type_check CHECK (document_type IN ('invoice', 'estimate')),
        document_id   uuid NOT NULL,
        opened_at     timestamptz NOT NULL DEFAULT now(),
        ip            text CONSTRAINT document_opens_ip_length CHECK (length(ip) <= 64),
        user_agent    text CONSTRAINT document_opens_user_agent_length CHECK (length(user_agent) <= 512)
      )`);
    // The business's list of opens of one document, newest first.
    await queryRunner.query(`CREATE INDEX document_opens_document_idx ON document_opens (business_id, document_type, document_id, opened_at DESC, id DESC)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE document_opens');
    await queryRunner.query('ALTER TABLE businesses DROP COLUMN link_ttl_days');
  }
}
