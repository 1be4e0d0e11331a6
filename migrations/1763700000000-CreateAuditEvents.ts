import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The append-only, hash-chained audit log. The trigger makes the database itself refuse edits. */
export class CreateAuditEvents1763700000000 implements MigrationInterface {
  name = 'CreateAuditEvents1763700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit_events (
        id          bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT audit_events_pkey PRIMARY KEY,
        business_id uuid,
        seq         bigint NOT NULL CONSTRAINT audit_events_seq_positive CHECK (seq > 0),
        occurred_at timestamptz NOT NULL,
        actor_type  text NOT NULL CONSTRAINT audit_events_actor_type_check
                      CHECK (actor_type IN ('user', 'system', 'customer', 'provider', 'anonymous')),
        actor_id    text,
        action      text NOT NULL CONSTRAINT audit_events_action_length CHECK (length(action) BETWEEN 1 AND 100),
        entity_type text,
        entity_id   text,
        ip          text,
        user_agent  text,
        detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
        prev_hash   bytea NOT NULL CONSTRAINT audit_events_prev_hash_length CHECK (length(prev_hash) = 32),
        hash        bytea NOT NULL CONSTRAINT audit_events_hash_length CHECK (length(hash) = 32)
      )`);
    // One chain per business (NULL business = the system chain): positions are unique.
    await queryRunner.query(`
      CREATE UNIQUE INDEX audit_events_chain_seq_key
        ON audit_events ((coalesce(business_id, '00000000-0000-0000-0000-000000000000'::uuid)), seq)`);
    await queryRunner.query(`CREATE INDEX audit_events_business_seq_idx ON audit_events (business_id, seq)`);
    await queryRunner.query(`CREATE INDEX audit_events_business_time_idx ON audit_events (business_id, occurred_at DESC, id DESC)`);
    await queryRunner.query(`
      CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`);
    await queryRunner.query(`
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE audit_events');
    await queryRunner.query('DROP FUNCTION audit_events_append_only()');
  }
}
