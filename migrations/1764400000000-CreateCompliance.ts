import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Trust and compliance: retention settings and closure on businesses, customer erasure records,
 * security events (with once-per-burst bookkeeping), the audit chain anchors that make a
 * retention purge verifiable, key first-seen dates for the posture report, and the one narrow
 * exception to "append-only" that a retention purge needs.
 *
 * The purge exception (read this before changing it):
 *  - UPDATE and TRUNCATE of audit_events and of the tables guarded by refuse_change()
 *    (invoice_versions, credit_notes, payments, refunds, customer_credits) stay refused, always.
 *  - DELETE is refused unless the transaction has set `ledgerline.retention_purge = on`
 *    (`set_config(..., true)`: transaction-local, only the retention purge sets it) AND the row is
 *    past its retention cutoff, computed here in the database from the business's own settings
 *    (`retention_financial_cutoff`: at least 5 years after the end of the fiscal year; the system
 *    chain of events of no business: 1 year). For audit_events the row must also lie within the
 *    chain prefix covered by the chain's anchor (`audit_chain_anchors`), which records the seq and
 *    hash of the last purged event so the remaining chain still verifies from there.
 *  So even code that sets the flag (or SQL injected into a session) can remove nothing younger
 *  than the retention period, and can never rewrite a row. Anchors only move forward, only
 *  under the flag, and only to the hash the chain really has at that seq.
 */
export class CreateCompliance1764400000000 implements MigrationInterface {
  name = 'CreateCompliance1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE businesses
        ADD COLUMN retention_years            integer NOT NULL DEFAULT 7
                     CONSTRAINT businesses_retention_years_check CHECK (retention_years BETWEEN 5 AND 30),
        ADD COLUMN fiscal_year_end_month      integer NOT NULL DEFAULT 12
                     CONSTRAINT businesses_fiscal_year_end_month_check CHECK (fiscal_year_end_month BETWEEN 1 AND 12),
        ADD COLUMN last_exported_at           timestamptz,
        ADD COLUMN closed_by                  uuid REFERENCES users(id),
        ADD COLUMN closure_reason             text CONSTRAINT businesses_closure_reason_length CHECK (length(closure_reason) <= 1000),
        ADD COLUMN identifying_data_erase_after timestamptz,
        ADD COLUMN identifying_data_erased_at timestamptz`);
    await queryRunner.query(`
      CREATE INDEX businesses_erasure_due_idx ON businesses (identifying_data_erase_after)
        WHERE closed_at IS NOT NULL AND identifying_data_erased_at IS NULL`);

    // One row per erased customer: the proof that (and why, and by whom) it was done. No foreign
    // key to customers: the record outlives a later deletion of the pseudonymised row.
    await queryRunner.query(`
      CREATE TABLE customer_erasures (
        business_id uuid NOT NULL REFERENCES businesses(id),
        customer_id uuid NOT NULL,
        erased_at   timestamptz NOT NULL DEFAULT now(),
        erased_by   uuid REFERENCES users(id),
        reason      text NOT NULL CONSTRAINT customer_erasures_reason_length CHECK (length(reason) BETWEEN 1 AND 1000),
        summary     jsonb NOT NULL DEFAULT '{}'::jsonb,
        CONSTRAINT customer_erasures_pkey PRIMARY KEY (business_id, customer_id)
      )`);

    // Security events: one row per burst (occurrences counts the events folded into it).
    // business_id NULL = the platform (e.g. webhook signature failures, which name no business).
    await queryRunner.query(`
      CREATE TABLE security_events (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id   uuid REFERENCES businesses(id),
        kind          text NOT NULL CONSTRAINT security_events_kind_length CHECK (length(kind) BETWEEN 1 AND 100),
        severity      text NOT NULL CONSTRAINT security_events_severity_check CHECK (severity IN ('info', 'warning', 'critical')),
        subject       text CONSTRAINT security_events_subject_length CHECK (length(subject) <= 300),
        summary       text NOT NULL CONSTRAINT security_events_summary_length CHECK (length(summary) BETWEEN 1 AND 500),
        detail        jsonb NOT NULL DEFAULT '{}'::jsonb,
        occurrences   integer NOT NULL DEFAULT 1 CONSTRAINT security_events_occurrences_check CHECK (occurrences > 0),
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at  timestamptz NOT NULL DEFAULT now(),
        alerted_at    timestamptz,
        alert_recipients integer NOT NULL DEFAULT 0
      )`);
    await queryRunner.query(`CREATE INDEX security_events_business_idx ON security_events (business_id, first_seen_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX security_events_seen_idx ON security_events (last_seen_at)`);
    // The open burst per (scope, kind, subject): a second event inside the quiet period joins it.
    await queryRunner.query(`
      CREATE TABLE security_bursts (
        burst_key  text PRIMARY KEY,
        event_id   uuid NOT NULL REFERENCES security_events(id) ON DELETE CASCADE,
        open_until timestamptz NOT NULL
      )`);
    // Security-relevant audit events seen by the scanner: exactly-once processing (the unique key)
    // and the windowed counts ("5 failed logins on one account in 15 minutes").
    await queryRunner.query(`
      CREATE TABLE security_signals (
        id             bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT security_signals_pkey PRIMARY KEY,
        audit_event_id bigint NOT NULL,
        kind           text NOT NULL,
        subject        text NOT NULL,
        ref            text,
        at             timestamptz NOT NULL,
        CONSTRAINT security_signals_event_key UNIQUE (audit_event_id, kind, subject)
      )`);
    await queryRunner.query(`CREATE INDEX security_signals_window_idx ON security_signals (kind, subject, at)`);
    await queryRunner.query(`CREATE INDEX security_signals_at_idx ON security_signals (at)`);
    // The scanner's position in audit_events: `confirmed_id` is fully processed; `candidate_id`
    // becomes confirmed once it is a minute old (a transaction still open a minute after it
    // appended an event is the only way to be skipped). Starts at the current end: no alerts for history.
    await queryRunner.query(`
      CREATE TABLE security_scan_state (
        id           smallint PRIMARY KEY CONSTRAINT security_scan_state_single CHECK (id = 1),
        confirmed_id bigint NOT NULL,
        candidate_id bigint NOT NULL,
        candidate_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      INSERT INTO security_scan_state (id, confirmed_id, candidate_id)
      SELECT 1, coalesce(max(id), 0), coalesce(max(id), 0) FROM audit_events`);
    // The security scanner counts failed checkouts per business in the last hour (payments' table, an index only).
    await queryRunner.query(`CREATE INDEX checkout_sessions_failed_idx ON checkout_sessions (updated_at) WHERE status = 'failed'`);
    // When each configured key (LINK_SIGNING_KEYS, ENCRYPTION_KEYS) was first seen: its age in the
    // posture report. The fingerprint is a domain-separated SHA-256 of the secret, never the secret.
    await queryRunner.query(`
      CREATE TABLE key_fingerprints (
        kind          text NOT NULL CONSTRAINT key_fingerprints_kind_check CHECK (kind IN ('LINK_SIGNING_KEYS', 'ENCRYPTION_KEYS')),
        key_id        text NOT NULL,
        fingerprint   text NOT NULL,
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT key_fingerprints_pkey PRIMARY KEY (kind, key_id)
      )`);

    // ---- Retention cutoffs, computed by the database (the triggers rely on them) -------------
    // The latest fiscal-year end E with E + retention_years <= today (UTC): documents dated on or
    // before E are past retention. NULL for an unknown business (nothing may be purged).
    await queryRunner.query(`
      CREATE FUNCTION retention_financial_cutoff(p_business uuid) RETURNS date LANGUAGE sql STABLE AS $$
        WITH b AS (
          SELECT ((now() AT TIME ZONE 'UTC')::date - make_interval(years => retention_years))::date AS t, fiscal_year_end_month AS m
            FROM businesses WHERE id = p_business
        ), e AS (
          SELECT t, m, (make_date(extract(year FROM t)::int, m, 1) + interval '1 month' - interval '1 day')::date AS this_year FROM b
        )
        SELECT CASE WHEN this_year <= t THEN this_year
                    ELSE (make_date(extract(year FROM t)::int - 1, m, 1) + interval '1 month' - interval '1 day')::date END
          FROM e
      $$`);
    // The instant before which a chain's audit events are past retention.
    await queryRunner.query(`
      CREATE FUNCTION audit_retention_cutoff(p_business uuid) RETURNS timestamptz LANGUAGE sql STABLE AS $$
        SELECT CASE WHEN p_business IS NULL THEN now() - interval '1 year'
                    ELSE ((retention_financial_cutoff(p_business) + 1)::timestamp AT TIME ZONE 'UTC') END
      $$`);

    // ---- Audit chain anchors -------------------------------------------------------------------
    await queryRunner.query(`
      CREATE TABLE audit_chain_anchors (
        chain_id      uuid PRIMARY KEY,
        business_id   uuid,
        through_seq   bigint NOT NULL CONSTRAINT audit_chain_anchors_seq_positive CHECK (through_seq > 0),
        through_hash  bytea NOT NULL CONSTRAINT audit_chain_anchors_hash_length CHECK (length(through_hash) = 32),
        purged_events bigint NOT NULL DEFAULT 0,
        updated_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT audit_chain_anchors_chain_check CHECK (chain_id = coalesce(business_id, '00000000-0000-0000-0000-000000000000'::uuid))
      )`);
    await queryRunner.query(`
      CREATE FUNCTION audit_chain_anchors_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP IN ('INSERT', 'UPDATE') AND coalesce(current_setting('ledgerline.retention_purge', true), '') = 'on'
           AND (TG_OP = 'INSERT' OR (NEW.chain_id = OLD.chain_id AND NEW.through_seq >= OLD.through_seq))
           AND EXISTS (SELECT 1 FROM audit_events e
                        WHERE e.business_id IS NOT DISTINCT FROM NEW.business_id AND e.seq = NEW.through_seq AND e.hash = NEW.through_hash) THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_chain_anchors move only forward, during a retention purge: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER audit_chain_anchors_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_chain_anchors
        FOR EACH ROW EXECUTE FUNCTION audit_chain_anchors_guard()`);
    await queryRunner.query(`
      CREATE TRIGGER audit_chain_anchors_no_truncate BEFORE TRUNCATE ON audit_chain_anchors
        FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_anchors_guard()`);

    // ---- The purge exception in the append-only guards (same trigger names, same messages) ----
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        anchored bigint;
      BEGIN
        IF TG_OP = 'DELETE' AND coalesce(current_setting('ledgerline.retention_purge', true), '') = 'on' THEN
          SELECT a.through_seq INTO anchored FROM audit_chain_anchors a
           WHERE a.chain_id = coalesce(OLD.business_id, '00000000-0000-0000-0000-000000000000'::uuid);
          IF anchored IS NOT NULL AND OLD.seq <= anchored AND OLD.occurred_at < audit_retention_cutoff(OLD.business_id) THEN
            RETURN OLD;
          END IF;
          RAISE EXCEPTION 'audit_events is append-only: DELETE is not allowed'
            USING ERRCODE = 'insufficient_privilege', HINT = 'a retention purge removes only an anchored chain prefix older than the retention cutoff';
        END IF;
        RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    // Invoice history and the payment records (invoice_versions, credit_notes, payments, refunds,
    // customer_credits: every table guarded by refuse_change has invoice_id and business_id) may
    // be deleted only together with an invoice that is itself past retention.
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        old_row jsonb;
      BEGIN
        IF TG_OP = 'DELETE' AND coalesce(current_setting('ledgerline.retention_purge', true), '') = 'on' THEN
          old_row := to_jsonb(OLD);
          IF old_row ? 'invoice_id' AND old_row ? 'business_id'
             AND (SELECT i.issue_date FROM invoices i
                   WHERE i.id = (old_row->>'invoice_id')::uuid AND i.business_id = (old_row->>'business_id')::uuid)
                 <= retention_financial_cutoff((old_row->>'business_id')::uuid) THEN
            RETURN OLD;
          END IF;
        END IF;
        RAISE EXCEPTION '% is immutable: % is not allowed', TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is immutable: % is not allowed', TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    await queryRunner.query('DROP TABLE audit_chain_anchors');
    await queryRunner.query('DROP FUNCTION audit_chain_anchors_guard()');
    await queryRunner.query('DROP FUNCTION audit_retention_cutoff(uuid)');
    await queryRunner.query('DROP FUNCTION retention_financial_cutoff(uuid)');
    await queryRunner.query('DROP INDEX checkout_sessions_failed_idx');
    for (const table of ['key_fingerprints', 'security_scan_state', 'security_signals', 'security_bursts', 'security_events', 'customer_erasures']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
    await queryRunner.query(`
      ALTER TABLE businesses DROP COLUMN retention_years, DROP COLUMN fiscal_year_end_month, DROP COLUMN last_exported_at,
        DROP COLUMN closed_by, DROP COLUMN closure_reason, DROP COLUMN identifying_data_erase_after, DROP COLUMN identifying_data_erased_at`);
  }
}
