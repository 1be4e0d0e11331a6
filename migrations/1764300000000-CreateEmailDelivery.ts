import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Email delivery and background work (notifications issue):
 *
 * - the outbox `emails` grows what at-most-once sending and delivery tracking need: attempts,
 *   the moment a send started (`sending_at`: a row stuck in `sending` is resolved by searching
 *   Postmark for its metadata before anything is resent), the document it is about, and the
 *   delivery facts the Postmark webhook reports (delivered, opened, clicked, bounced, complained);
 * - `email_events`: every webhook body, recorded or ignored, deduplicated by its hash;
 * - `email_suppressions`: an address a hard bounce or spam complaint made undeliverable, per
 *   business, until a member clears it;
 * - the business's time zone and its reminder schedule; `invoice_reminders`, unique per invoice
 *   and stage, so a reminder can be sent at most once whatever the schedulers do;
 * - `notification_settings` (review requests), `recurring_generation_state` (the days a template
 *   was paused, so a resume does not catch those periods up) and `schedule_runs` (last run of each
 *   schedule, for GET /v1/jobs/health).
 */
export class CreateEmailDelivery1764300000000 implements MigrationInterface {
  name = 'CreateEmailDelivery1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE emails DROP CONSTRAINT emails_status_check');
    // Rows from before this migration: `sending` never had a start time (the capture transport went straight to captured).
    await queryRunner.query('ALTER TABLE emails ADD COLUMN sending_at timestamptz');
    await queryRunner.query(`UPDATE emails SET sending_at = created_at WHERE status = 'sending'`);
    // suppressed: never sent because the address is suppressed for the business;
    // cancelled: no longer wanted when its turn came (a reminder of an invoice paid meanwhile).
    await queryRunner.query(`
      ALTER TABLE emails
        ADD CONSTRAINT emails_status_check CHECK (status IN ('queued', 'sending', 'sent', 'captured', 'failed', 'suppressed', 'cancelled')),
        ADD COLUMN document_type      text CONSTRAINT emails_document_type_check CHECK (document_type IN ('invoice', 'estimate', 'credit_note')),
        ADD COLUMN document_id        uuid,
        ADD COLUMN attempts           integer NOT NULL DEFAULT 0,
        ADD COLUMN next_attempt_at    timestamptz,
        ADD COLUMN lookup_before_send boolean NOT NULL DEFAULT false,
        ADD COLUMN failed_at          timestamptz,
        ADD COLUMN error_code         text,
        ADD COLUMN delivered_at       timestamptz,
        ADD COLUMN opened_at          timestamptz,
        ADD COLUMN clicked_at         timestamptz,
        ADD COLUMN bounced_at         timestamptz,
        ADD COLUMN bounce_type        text,
        ADD COLUMN complained_at      timestamptz,
        ADD CONSTRAINT emails_document_pair CHECK ((document_type IS NULL) = (document_id IS NULL)),
        ADD CONSTRAINT emails_sending_at_check CHECK (status <> 'sending' OR sending_at IS NOT NULL)`);
    // Webhooks find their email by Postmark's MessageID.
    await queryRunner.query('CREATE UNIQUE INDEX emails_provider_message_key ON emails (provider_message_id) WHERE provider_message_id IS NOT NULL');
    await queryRunner.query('CREATE INDEX emails_document_idx ON emails (business_id, document_type, document_id, created_at DESC) WHERE document_id IS NOT NULL');
    await queryRunner.query(`CREATE INDEX emails_failed_idx ON emails (business_id, failed_at DESC) WHERE status = 'failed'`);

    await queryRunner.query(`
      CREATE TABLE email_events (
        id                  bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT email_events_pkey PRIMARY KEY,
        email_id            uuid REFERENCES emails(id),
        business_id         uuid REFERENCES businesses(id),
        document_type       text,
        document_id         uuid,
        record_type         text NOT NULL CONSTRAINT email_events_record_type_length CHECK (length(record_type) <= 64),
        outcome             text NOT NULL CONSTRAINT email_events_outcome_check CHECK (outcome IN ('recorded', 'ignored')),
        ignored_reason      text,
        provider_message_id text CONSTRAINT email_events_message_id_length CHECK (length(provider_message_id) <= 128),
        recipient           text CONSTRAINT email_events_recipient_length CHECK (length(recipient) <= 320),
        occurred_at         timestamptz,
        received_at         timestamptz NOT NULL DEFAULT now(),
        detail              jsonb NOT NULL DEFAULT '{}'::jsonb,
        payload_hash        bytea NOT NULL,
        -- Postmark retries a webhook it thinks failed: the same body is recorded once.
        CONSTRAINT email_events_payload_key UNIQUE (payload_hash)
      )`);
    await queryRunner.query('CREATE INDEX email_events_email_idx ON email_events (email_id, id) WHERE email_id IS NOT NULL');
    await queryRunner.query('CREATE INDEX email_events_document_idx ON email_events (business_id, document_type, document_id, id) WHERE document_id IS NOT NULL');

    await queryRunner.query(`
      CREATE TABLE email_suppressions (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id uuid NOT NULL REFERENCES businesses(id),
        address     text NOT NULL CONSTRAINT email_suppressions_address_check CHECK (address = lower(address) AND length(address) BETWEEN 3 AND 320),
        reason      text NOT NULL CONSTRAINT email_suppressions_reason_check CHECK (reason IN ('hard_bounce', 'spam_complaint', 'inactive_recipient')),
        email_id    uuid REFERENCES emails(id),
        detail      text CONSTRAINT email_suppressions_detail_length CHECK (length(detail) <= 500),
        created_at  timestamptz NOT NULL DEFAULT now(),
        cleared_at  timestamptz,
        cleared_by  uuid REFERENCES users(id),
        CONSTRAINT email_suppressions_business_id_key UNIQUE (business_id, id)
      )`);
    // At most one active suppression per business and address; cleared ones stay as history.
    await queryRunner.query('CREATE UNIQUE INDEX email_suppressions_active_key ON email_suppressions (business_id, address) WHERE cleared_at IS NULL');

    await queryRunner.query(`
      ALTER TABLE businesses
        ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC' CONSTRAINT businesses_time_zone_length CHECK (length(time_zone) BETWEEN 1 AND 64)`);
    // No row = the defaults (on; 3 days before, on the due date, 7 and 14 days after; 09:00 local).
    await queryRunner.query(`
      CREATE TABLE reminder_settings (
        business_id uuid PRIMARY KEY REFERENCES businesses(id),
        enabled     boolean NOT NULL DEFAULT true,
        stages      integer[] NOT NULL DEFAULT '{-3,0,7,14}'
                      CONSTRAINT reminder_settings_stages_check CHECK (cardinality(stages) BETWEEN 1 AND 8 AND -60 <= ALL (stages) AND 365 >= ALL (stages)),
        send_hour   smallint NOT NULL DEFAULT 9 CONSTRAINT reminder_settings_send_hour_check CHECK (send_hour BETWEEN 0 AND 23),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        updated_by  uuid REFERENCES users(id)
      )`);
    await queryRunner.query(`
      CREATE TABLE invoice_reminders (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id uuid NOT NULL REFERENCES businesses(id),
        invoice_id  uuid NOT NULL,
        stage       integer NOT NULL,
        email_id    uuid REFERENCES emails(id),
        created_at  timestamptz NOT NULL DEFAULT now(),
        -- The rule that makes a second scheduler run (or a second worker) a no-op.
        CONSTRAINT invoice_reminders_stage_key UNIQUE (invoice_id, stage),
        CONSTRAINT invoice_reminders_invoice_fkey FOREIGN KEY (business_id, invoice_id) REFERENCES invoices(business_id, id)
      )`);
    await queryRunner.query('CREATE INDEX invoice_reminders_business_idx ON invoice_reminders (business_id, created_at DESC)');

    await queryRunner.query(`
      CREATE TABLE notification_settings (
        business_id             uuid PRIMARY KEY REFERENCES businesses(id),
        review_requests_enabled boolean NOT NULL DEFAULT false,
        review_url              text CONSTRAINT notification_settings_review_url_check CHECK (review_url ~ '^https://' AND length(review_url) <= 2000),
        updated_at              timestamptz NOT NULL DEFAULT now(),
        updated_by              uuid REFERENCES users(id),
        CONSTRAINT notification_settings_review_needs_url CHECK (NOT review_requests_enabled OR review_url IS NOT NULL)
      )`);

    await queryRunner.query(`
      CREATE TABLE recurring_generation_state (
        recurring_invoice_id uuid PRIMARY KEY REFERENCES recurring_invoices(id) ON DELETE CASCADE,
        business_id          uuid NOT NULL REFERENCES businesses(id),
        paused_through       date,
        updated_at           timestamptz NOT NULL DEFAULT now()
      )`);

    await queryRunner.query(`
      CREATE TABLE schedule_runs (
        name             text PRIMARY KEY,
        last_started_at  timestamptz,
        last_finished_at timestamptz,
        last_outcome     text CONSTRAINT schedule_runs_outcome_check CHECK (last_outcome IN ('ok', 'failed')),
        last_error       text,
        last_queued      integer,
        runs             bigint NOT NULL DEFAULT 0,
        failures         bigint NOT NULL DEFAULT 0
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['schedule_runs', 'recurring_generation_state', 'notification_settings', 'invoice_reminders', 'reminder_settings', 'email_suppressions', 'email_events']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
    await queryRunner.query('ALTER TABLE businesses DROP COLUMN time_zone');
    await queryRunner.query('DROP INDEX emails_failed_idx');
    await queryRunner.query('DROP INDEX emails_document_idx');
    await queryRunner.query('DROP INDEX emails_provider_message_key');
    await queryRunner.query(`UPDATE emails SET status = 'failed' WHERE status IN ('suppressed', 'cancelled')`);
    await queryRunner.query(`
      ALTER TABLE emails
        DROP CONSTRAINT emails_sending_at_check,
        DROP CONSTRAINT emails_document_pair,
        DROP CONSTRAINT emails_status_check,
        DROP COLUMN document_type, DROP COLUMN document_id, DROP COLUMN attempts, DROP COLUMN sending_at, DROP COLUMN next_attempt_at,
        DROP COLUMN lookup_before_send, DROP COLUMN failed_at, DROP COLUMN error_code, DROP COLUMN delivered_at, DROP COLUMN opened_at,
        DROP COLUMN clicked_at, DROP COLUMN bounced_at, DROP COLUMN bounce_type, DROP COLUMN complained_at,
        ADD CONSTRAINT emails_status_check CHECK (status IN ('queued', 'sending', 'sent', 'captured', 'failed'))`);
  }
}
