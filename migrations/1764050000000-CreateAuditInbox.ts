import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * High-volume read events (documents viewed, links opened) land here with one plain INSERT and
 * are folded into the hash-chained audit_events by the worker, so reads never serialise on a
 * chain's lock. Rows leave the inbox only by being appended to the chain, in the same transaction.
 */
export class CreateAuditInbox1764050000000 implements MigrationInterface {
  name = 'CreateAuditInbox1764050000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit_inbox (
        id          bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT audit_inbox_pkey PRIMARY KEY,
        business_id uuid,
        occurred_at timestamptz NOT NULL DEFAULT now(),
        actor_type  text NOT NULL CONSTRAINT audit_inbox_actor_type_check
                      CHECK (actor_type IN ('user', 'system', 'customer', 'provider', 'anonymous')),
        actor_id    text,
        action      text NOT NULL CONSTRAINT audit_inbox_action_length CHECK (length(action) BETWEEN 1 AND 100),
        entity_type text,
        entity_id   text,
        ip          text,
        user_agent  text,
        detail      jsonb NOT NULL DEFAULT '{}'::jsonb
      )`);
    await queryRunner.query(`CREATE INDEX audit_inbox_business_idx ON audit_inbox (business_id, id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE audit_inbox');
  }
}
