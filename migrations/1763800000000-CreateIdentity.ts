import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tenancy and identity: businesses (the tenant), users, memberships with roles, sessions with
 * rotating refresh tokens, MFA recovery codes, invitations, password resets, the durable email
 * outbox, and the shared rate-limit counters used when Redis is not configured.
 */
export class CreateIdentity1763800000000 implements MigrationInterface {
  name = 'CreateIdentity1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE businesses (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name         text NOT NULL CONSTRAINT businesses_name_length CHECK (length(name) BETWEEN 1 AND 200),
        require_mfa  boolean NOT NULL DEFAULT true,
        link_epoch   integer NOT NULL DEFAULT 0,
        created_at   timestamptz NOT NULL DEFAULT now(),
        closed_at    timestamptz
      )`);
    await queryRunner.query(`
      CREATE TABLE users (
        id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email                 text NOT NULL,
        name                  text NOT NULL CONSTRAINT users_name_length CHECK (length(name) BETWEEN 1 AND 200),
        password_hash         text NOT NULL,
        password_changed_at   timestamptz NOT NULL DEFAULT now(),
        mfa_secret            text,
        mfa_pending_secret    text,
        mfa_enabled_at        timestamptz,
        mfa_last_used_step    bigint,
        failed_login_count    integer NOT NULL DEFAULT 0,
        failed_login_since    timestamptz,
        locked_until          timestamptz,
        created_at            timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_email_key UNIQUE (email)
      )`);
    await queryRunner.query(`
      CREATE TABLE memberships (
        business_id  uuid NOT NULL REFERENCES businesses(id),
        user_id      uuid NOT NULL REFERENCES users(id),
        role         text NOT NULL CONSTRAINT memberships_role_check CHECK (role IN ('admin', 'billing', 'viewer')),
        created_at   timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT memberships_pkey PRIMARY KEY (business_id, user_id)
      )`);
    await queryRunner.query(`CREATE INDEX memberships_user_idx ON memberships (user_id, last_used_at DESC)`);
    await queryRunner.query(`
      CREATE TABLE sessions (
        id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id             uuid NOT NULL REFERENCES users(id),
        business_id         uuid NOT NULL REFERENCES businesses(id),
        client              text NOT NULL CONSTRAINT sessions_client_check CHECK (client IN ('web', 'mobile')),
        created_at          timestamptz NOT NULL DEFAULT now(),
        last_used_at        timestamptz NOT NULL DEFAULT now(),
        idle_expires_at     timestamptz NOT NULL,
        absolute_expires_at timestamptz NOT NULL,
        revoked_at          timestamptz,
        revoked_reason      text,
        ip                  text,
        user_agent          text
      )`);
    await queryRunner.query(`CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL`);
    // One row per issued refresh token; the session is the token family.
    await queryRunner.query(`
      CREATE TABLE refresh_tokens (
        token_hash   bytea PRIMARY KEY,
        session_id   uuid NOT NULL REFERENCES sessions(id),
        issued_at    timestamptz NOT NULL DEFAULT now(),
        consumed_at  timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id)`);
    await queryRunner.query(`
      CREATE TABLE mfa_recovery_codes (
        id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id    uuid NOT NULL REFERENCES users(id),
        code_hash  bytea NOT NULL,
        used_at    timestamptz,
        CONSTRAINT mfa_recovery_codes_hash_key UNIQUE (user_id, code_hash)
      )`);
    await queryRunner.query(`
      CREATE TABLE invitations (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id uuid NOT NULL REFERENCES businesses(id),
        email       text NOT NULL,
        role        text NOT NULL CONSTRAINT invitations_role_check CHECK (role IN ('admin', 'billing', 'viewer')),
        token_hash  bytea NOT NULL CONSTRAINT invitations_token_key UNIQUE,
        invited_by  uuid NOT NULL REFERENCES users(id),
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL,
        accepted_at timestamptz,
        revoked_at  timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX invitations_business_idx ON invitations (business_id, created_at DESC)`);
    await queryRunner.query(`
      CREATE TABLE password_resets (
        token_hash  bytea PRIMARY KEY,
        user_id     uuid NOT NULL REFERENCES users(id),
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL,
        used_at     timestamptz
      )`);
    // Durable outbox: the row is written in the transaction that causes the email; a job sends it.
    await queryRunner.query(`
      CREATE TABLE emails (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id uuid REFERENCES businesses(id),
        to_address  text NOT NULL,
        template    text NOT NULL,
        subject     text NOT NULL,
        text_body   text NOT NULL,
        html_body   text NOT NULL,
        status      text NOT NULL DEFAULT 'queued' CONSTRAINT emails_status_check
                      CHECK (status IN ('queued', 'sending', 'sent', 'captured', 'failed')),
        created_at  timestamptz NOT NULL DEFAULT now(),
        sent_at     timestamptz,
        provider_message_id text,
        last_error  text
      )`);
    await queryRunner.query(`CREATE INDEX emails_business_idx ON emails (business_id, created_at DESC)`);
    await queryRunner.query(`CREATE INDEX emails_queued_idx ON emails (created_at) WHERE status IN ('queued', 'sending')`);
    await queryRunner.query(`
      CREATE UNLOGGED TABLE rate_limit_counters (
        key        text PRIMARY KEY,
        hits       integer NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['rate_limit_counters', 'emails', 'password_resets', 'invitations', 'mfa_recovery_codes', 'refresh_tokens', 'sessions', 'memberships', 'users', 'businesses']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}
