import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The invoicing core: customers, invoices with their lines and immutable versions, credit notes,
 * estimates, recurring invoice templates, the per-business document counters, and the
 * Idempotency-Key store for creating POSTs.
 *
 * Every business-owned table carries `business_id`, and references between them are composite
 * `(business_id, id)` foreign keys, so the database itself refuses an invoice whose customer
 * belongs to another business. Constraint names are chosen so that the service can map a
 * violation to a clear API error by name.
 */
export class CreateInvoicing1764000000000 implements MigrationInterface {
  name = 'CreateInvoicing1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE businesses
        ADD COLUMN invoice_number_format     text NOT NULL DEFAULT 'INV-{YYYY}-{0000}',
        ADD COLUMN estimate_number_format    text NOT NULL DEFAULT 'EST-{YYYY}-{0000}',
        ADD COLUMN credit_note_number_format text NOT NULL DEFAULT 'CN-{YYYY}-{0000}',
        ADD COLUMN default_net_days          integer NOT NULL DEFAULT 30
                     CONSTRAINT businesses_default_net_days_check CHECK (default_net_days BETWEEN 0 AND 365),
        ADD COLUMN address                   text CONSTRAINT businesses_address_length CHECK (length(address) <= 1000),
        ADD COLUMN payment_instructions      text CONSTRAINT businesses_payment_instructions_length CHECK (length(payment_instructions) <= 2000)`);

    await queryRunner.query(`
      CREATE TABLE customers (
        id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id      uuid NOT NULL REFERENCES businesses(id),
        name             text NOT NULL CONSTRAINT customers_name_length CHECK (length(name) BETWEEN 1 AND 200),
        email            text,
        phone            text,
        billing_address  jsonb,
        notes            text,
        tax_id_encrypted text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT customers_business_id_key UNIQUE (business_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX customers_business_created_idx ON customers (business_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX customers_business_name_idx ON customers (business_id, lower(name) text_pattern_ops)`);
    await queryRunner.query(`CREATE INDEX customers_business_email_idx ON customers (business_id, lower(email) text_pattern_ops)`);

    // One counter per business and document kind. The next number is taken with an UPSERT that
    // holds the row lock until commit, so numbers are unique and a rolled-back finalisation
    // gives its number back (gap-free).
    await queryRunner.query(`
      CREATE TABLE document_sequences (
        business_id uuid NOT NULL REFERENCES businesses(id),
        kind        text NOT NULL CONSTRAINT document_sequences_kind_check CHECK (kind IN ('invoice', 'credit_note', 'estimate')),
        last_value  bigint NOT NULL CONSTRAINT document_sequences_positive CHECK (last_value > 0),
        CONSTRAINT document_sequences_pkey PRIMARY KEY (business_id, kind)
      )`);

    await queryRunner.query(`
      CREATE TABLE estimates (
        id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id         uuid NOT NULL REFERENCES businesses(id),
        customer_id         uuid NOT NULL,
        status              text NOT NULL DEFAULT 'draft' CONSTRAINT estimates_status_check
                              CHECK (status IN ('draft', 'sent', 'accepted', 'declined', 'expired', 'converted')),
        number              text,
        sequence            bigint,
        currency            text NOT NULL CONSTRAINT estimates_currency_shape CHECK (currency ~ '^[A-Z]{3}$'),
        issue_date          date NOT NULL,
        expiry_date         date NOT NULL,
        notes               text,
        terms               text,
        discount            bigint NOT NULL DEFAULT 0,
        subtotal            bigint NOT NULL,
        discount_total      bigint NOT NULL,
        tax_total           bigint NOT NULL,
        total               bigint NOT NULL,
        version             integer NOT NULL DEFAULT 1,
        created_by          uuid REFERENCES users(id),
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        sent_at             timestamptz,
        last_sent_at        timestamptz,
        send_count          integer NOT NULL DEFAULT 0,
        viewed_at           timestamptz,
        accepted_at         timestamptz,
        accepted_ip         text,
        accepted_user_agent text,
        declined_at         timestamptz,
        converted_at        timestamptz,
        CONSTRAINT estimates_business_id_key UNIQUE (business_id, id),
        CONSTRAINT estimates_number_key UNIQUE (business_id, number),
        CONSTRAINT estimates_customer_fkey FOREIGN KEY (business_id, customer_id) REFERENCES customers(business_id, id),
        CONSTRAINT estimates_dates_check CHECK (expiry_date >= issue_date),
        CONSTRAINT estimates_number_when_sent CHECK ((number IS NULL) = (sequence IS NULL) AND (status = 'draft' OR number IS NOT NULL)),
        CONSTRAINT estimates_amounts_check CHECK (discount >= 0 AND subtotal >= 0 AND discount_total >= 0 AND tax_total >= 0 AND total >= 0 AND total < 1000000000000)
      )`);
    await queryRunner.query(`CREATE INDEX estimates_business_created_idx ON estimates (business_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX estimates_business_customer_idx ON estimates (business_id, customer_id)`);

    await queryRunner.query(`
      CREATE TABLE recurring_invoices (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id  uuid NOT NULL REFERENCES businesses(id),
        customer_id  uuid NOT NULL,
        currency     text NOT NULL CONSTRAINT recurring_invoices_currency_shape CHECK (currency ~ '^[A-Z]{3}$'),
        lines        jsonb NOT NULL,
        discount     bigint NOT NULL DEFAULT 0 CONSTRAINT recurring_invoices_discount_check CHECK (discount >= 0),
        notes        text,
        terms        text,
        net_days     integer NOT NULL CONSTRAINT recurring_invoices_net_days_check CHECK (net_days BETWEEN 0 AND 365),
        every        integer NOT NULL CONSTRAINT recurring_invoices_every_check CHECK (every BETWEEN 1 AND 52),
        unit         text NOT NULL CONSTRAINT recurring_invoices_unit_check CHECK (unit IN ('week', 'month')),
        day_of_month integer CONSTRAINT recurring_invoices_day_check CHECK (day_of_month BETWEEN 1 AND 31),
        start_date   date NOT NULL,
        end_date     date,
        count        integer CONSTRAINT recurring_invoices_count_check CHECK (count > 0),
        auto_send    boolean NOT NULL DEFAULT false,
        status       text NOT NULL DEFAULT 'active' CONSTRAINT recurring_invoices_status_check CHECK (status IN ('active', 'paused')),
        version      integer NOT NULL DEFAULT 1,
        created_by   uuid REFERENCES users(id),
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT recurring_invoices_business_id_key UNIQUE (business_id, id),
        CONSTRAINT recurring_invoices_customer_fkey FOREIGN KEY (business_id, customer_id) REFERENCES customers(business_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX recurring_invoices_business_created_idx ON recurring_invoices (business_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX recurring_invoices_business_customer_idx ON recurring_invoices (business_id, customer_id)`);

    // Amounts are minor units below 10^12. amount_paid and credited_total are maintained by the
    // payments and credit-note code under a row lock; balance = total - credited - paid.
    await queryRunner.query(`
      CREATE TABLE invoices (
        id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id          uuid NOT NULL REFERENCES businesses(id),
        customer_id          uuid NOT NULL,
        status               text NOT NULL DEFAULT 'draft' CONSTRAINT invoices_status_check
                               CHECK (status IN ('draft', 'open', 'partially_paid', 'paid', 'void')),
        number               text,
        sequence             bigint,
        currency             text NOT NULL CONSTRAINT invoices_currency_shape CHECK (currency ~ '^[A-Z]{3}$'),
        issue_date           date NOT NULL,
        due_date             date NOT NULL,
        notes                text,
        terms                text,
        discount             bigint NOT NULL DEFAULT 0,
        subtotal             bigint NOT NULL,
        discount_total       bigint NOT NULL,
        tax_total            bigint NOT NULL,
        total                bigint NOT NULL,
        amount_paid          bigint NOT NULL DEFAULT 0,
        credited_total       bigint NOT NULL DEFAULT 0,
        version              integer NOT NULL DEFAULT 1,
        created_by           uuid REFERENCES users(id),
        created_at           timestamptz NOT NULL DEFAULT now(),
        updated_at           timestamptz NOT NULL DEFAULT now(),
        finalized_at         timestamptz,
        sent_at              timestamptz,
        last_sent_at         timestamptz,
        send_count           integer NOT NULL DEFAULT 0,
        viewed_at            timestamptz,
        voided_at            timestamptz,
        void_reason          text,
        source_estimate_id   uuid,
        recurring_invoice_id uuid,
        recurring_period     text,
        CONSTRAINT invoices_business_id_key UNIQUE (business_id, id),
        CONSTRAINT invoices_number_key UNIQUE (business_id, number),
        CONSTRAINT invoices_source_estimate_key UNIQUE (source_estimate_id),
        CONSTRAINT invoices_recurring_period_key UNIQUE (recurring_invoice_id, recurring_period),
        CONSTRAINT invoices_customer_fkey FOREIGN KEY (business_id, customer_id) REFERENCES customers(business_id, id),
        CONSTRAINT invoices_estimate_fkey FOREIGN KEY (business_id, source_estimate_id) REFERENCES estimates(business_id, id),
        CONSTRAINT invoices_recurring_fkey FOREIGN KEY (business_id, recurring_invoice_id) REFERENCES recurring_invoices(business_id, id),
        CONSTRAINT invoices_dates_check CHECK (due_date >= issue_date),
        CONSTRAINT invoices_number_when_final CHECK ((number IS NULL) = (finalized_at IS NULL) AND (number IS NULL) = (sequence IS NULL)),
        CONSTRAINT invoices_void_reason CHECK ((status = 'void') = (voided_at IS NOT NULL) AND (voided_at IS NULL OR void_reason IS NOT NULL)),
        CONSTRAINT invoices_amounts_check CHECK (discount >= 0 AND subtotal >= 0 AND discount_total >= 0 AND tax_total >= 0
                                                 AND total >= 0 AND total < 1000000000000 AND amount_paid >= 0 AND credited_total >= 0
                                                 AND credited_total <= total)
      )`);
    // Keyset pagination: every whitelisted sort is (column, id) on an index that starts with business_id.
    await queryRunner.query(`CREATE INDEX invoices_business_created_idx ON invoices (business_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX invoices_business_issue_idx ON invoices (business_id, issue_date DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX invoices_business_due_idx ON invoices (business_id, due_date DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX invoices_business_status_idx ON invoices (business_id, status, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX invoices_business_customer_idx ON invoices (business_id, customer_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX invoices_business_number_idx ON invoices (business_id, number text_pattern_ops) WHERE number IS NOT NULL`);
    // A young business grows fast: analyse after 1% new rows (not 10%), so the planner keeps
    // picking the primary key for `business_id = … AND id = …` (measured: 9 ms instead of 0.05 ms with stale statistics).
    await queryRunner.query(`ALTER TABLE invoices SET (autovacuum_analyze_scale_factor = 0.01)`);
    await queryRunner.query(`CREATE INDEX invoices_outstanding_due_idx ON invoices (business_id, due_date, id) WHERE status IN ('open', 'partially_paid')`);

    for (const kind of ['invoice', 'estimate']) {
      await queryRunner.query(`
        CREATE TABLE ${kind}_lines (
          ${kind}_id     uuid NOT NULL REFERENCES ${kind}s(id) ON DELETE CASCADE,
          position       smallint NOT NULL CONSTRAINT ${kind}_lines_position_check CHECK (position BETWEEN 0 AND 499),
          business_id    uuid NOT NULL REFERENCES businesses(id),
          description    text NOT NULL CONSTRAINT ${kind}_lines_description_length CHECK (length(description) BETWEEN 1 AND 1000),
          quantity       numeric(13, 4) NOT NULL CONSTRAINT ${kind}_lines_quantity_check CHECK (quantity > 0),
          unit_price     bigint NOT NULL CONSTRAINT ${kind}_lines_unit_price_check CHECK (unit_price >= 0),
          tax_rate_bps   integer NOT NULL CONSTRAINT ${kind}_lines_tax_rate_check CHECK (tax_rate_bps BETWEEN 0 AND 10000),
          discount       bigint NOT NULL DEFAULT 0,
          subtotal       bigint NOT NULL,
          discount_total bigint NOT NULL,
          tax            bigint NOT NULL,
          total          bigint NOT NULL,
          CONSTRAINT ${kind}_lines_pkey PRIMARY KEY (${kind}_id, position)
        )`);
    }

    // The state of a finalised invoice before each change: written once, never changed.
    await queryRunner.query(`
      CREATE TABLE invoice_versions (
        id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id    uuid NOT NULL REFERENCES businesses(id),
        invoice_id     uuid NOT NULL REFERENCES invoices(id),
        version        integer NOT NULL,
        snapshot       jsonb NOT NULL,
        changed_fields text[] NOT NULL DEFAULT '{}',
        replaced_by    uuid REFERENCES users(id),
        replaced_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT invoice_versions_key UNIQUE (invoice_id, version)
      )`);

    await queryRunner.query(`
      CREATE TABLE credit_notes (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id uuid NOT NULL REFERENCES businesses(id),
        invoice_id  uuid NOT NULL,
        number      text NOT NULL,
        sequence    bigint NOT NULL,
        currency    text NOT NULL CONSTRAINT credit_notes_currency_shape CHECK (currency ~ '^[A-Z]{3}$'),
        issue_date  date NOT NULL,
        reason      text NOT NULL CONSTRAINT credit_notes_reason_length CHECK (length(reason) BETWEEN 1 AND 1000),
        lines       jsonb NOT NULL DEFAULT '[]'::jsonb,
        subtotal    bigint NOT NULL,
        tax_total   bigint NOT NULL,
        total       bigint NOT NULL CONSTRAINT credit_notes_total_check CHECK (total > 0 AND total < 1000000000000),
        created_by  uuid REFERENCES users(id),
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT credit_notes_number_key UNIQUE (business_id, number),
        CONSTRAINT credit_notes_invoice_fkey FOREIGN KEY (business_id, invoice_id) REFERENCES invoices(business_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX credit_notes_invoice_idx ON credit_notes (invoice_id, created_at)`);

    await queryRunner.query(`
      CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is immutable: % is not allowed', TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    for (const table of ['invoice_versions', 'credit_notes']) {
      await queryRunner.query(`CREATE TRIGGER ${table}_immutable BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION refuse_change()`);
      await queryRunner.query(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()`);
    }

    // Idempotency-Key on creating POSTs: the first response is stored and replayed for 24 hours.
    await queryRunner.query(`
      CREATE TABLE idempotency_keys (
        business_id  uuid NOT NULL REFERENCES businesses(id),
        key          text NOT NULL CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255),
        route        text NOT NULL,
        request_hash bytea NOT NULL,
        status_code  integer,
        response     jsonb,
        created_at   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT idempotency_keys_pkey PRIMARY KEY (business_id, key)
      )`);
    await queryRunner.query(`CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['idempotency_keys', 'credit_notes', 'invoice_versions', 'estimate_lines', 'invoice_lines', 'invoices', 'recurring_invoices', 'estimates', 'document_sequences', 'customers']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
    await queryRunner.query('DROP FUNCTION refuse_change()');
    await queryRunner.query(`
      ALTER TABLE businesses DROP COLUMN invoice_number_format, DROP COLUMN estimate_number_format, DROP COLUMN credit_note_number_format,
        DROP COLUMN default_net_days, DROP COLUMN address, DROP COLUMN payment_instructions`);
  }
}
