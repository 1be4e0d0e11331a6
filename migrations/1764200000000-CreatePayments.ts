import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Payments: hosted checkouts (Stripe Checkout Sessions, PayPal orders), payments applied to
 * invoices, refunds (maker–checker), customer credits for overpayments, disputes, and the
 * durable inbox of verified provider webhooks.
 *
 * Exactly-once rests on two constraints: `payments (provider, provider_payment_id)` (a payment
 * intent, a capture, or a manual payment's idempotency key can be applied once) and
 * `webhook_events (provider, event_id)` (a delivery is stored once). Business-owned tables
 * reference each other through composite `(business_id, id)` foreign keys, like the invoicing
 * core, so a payment can never point at another business's invoice. We store provider ids,
 * brand, last four, amounts and statuses only: never a card number.
 */
export class CreatePayments1764200000000 implements MigrationInterface {
  name = 'CreatePayments1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Set when the provider reports a dispute (chargeback) on a payment of the invoice.
    await queryRunner.query(`ALTER TABLE invoices ADD COLUMN disputed_at timestamptz`);

    await queryRunner.query(`
      CREATE TABLE checkout_sessions (
        id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id         uuid NOT NULL REFERENCES businesses(id),
        invoice_id          uuid NOT NULL,
        provider            text NOT NULL CONSTRAINT checkout_sessions_provider_check CHECK (provider IN ('stripe', 'paypal')),
        provider_session_id text NOT NULL CONSTRAINT checkout_sessions_provider_session_length CHECK (length(provider_session_id) BETWEEN 1 AND 255),
        status              text NOT NULL DEFAULT 'open' CONSTRAINT checkout_sessions_status_check
                              CHECK (status IN ('open', 'processing', 'pending', 'completed', 'expired', 'failed')),
        amount              bigint NOT NULL CONSTRAINT checkout_sessions_amount_check CHECK (amount > 0 AND amount < 1000000000000),
        currency            text NOT NULL CONSTRAINT checkout_sessions_currency_shape CHECK (currency ~ '^[A-Z]{3}$'),
        invoice_version     integer NOT NULL,
        idempotency_key     text NOT NULL,
        url                 text,
        capture_id          text,
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT checkout_sessions_business_id_key UNIQUE (business_id, id),
        CONSTRAINT checkout_sessions_provider_session_key UNIQUE (provider, provider_session_id),
        CONSTRAINT checkout_sessions_invoice_fkey FOREIGN KEY (business_id, invoice_id) REFERENCES invoices(business_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX checkout_sessions_invoice_idx ON checkout_sessions (business_id, invoice_id, created_at DESC)`);

    await queryRunner.query(`
      CREATE TABLE payments (
        id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id            uuid NOT NULL REFERENCES businesses(id),
        invoice_id             uuid NOT NULL,
        provider               text NOT NULL CONSTRAINT payments_provider_check CHECK (provider IN ('stripe', 'paypal', 'manual')),
        provider_payment_id    text NOT NULL CONSTRAINT payments_provider_payment_length CHECK (length(provider_payment_id) BETWEEN 1 AND 320),
        method                 text NOT NULL CONSTRAINT payments_method_check CHECK (method IN ('card', 'paypal', 'cash', 'cheque', 'bank_transfer', 'other')),
        amount                 bigint NOT NULL CONSTRAINT payments_amount_check CHECK (amount > 0 AND amount < 1000000000000),
        currency               text NOT NULL CONSTRAINT payments_currency_shape CHECK (currency ~ '^[A-Z]{3}$'),
        fee                    bigint CONSTRAINT payments_fee_check CHECK (fee >= 0),
        net                    bigint,
        settlement_currency    text CONSTRAINT payments_settlement_currency_shape CHECK (settlement_currency ~ '^[A-Z]{3}$'),
        received_on            date NOT NULL,
        reference              text CONSTRAINT payments_reference_length CHECK (length(reference) <= 200),
        checkout_session_id    text,
        payment_intent_id      text,
        charge_id              text,
        order_id               text,
        capture_id             text,
        balance_transaction_id text,
        payout_id              text,
        card_brand             text CONSTRAINT payments_card_brand_length CHECK (length(card_brand) <= 32),
        card_last4             text CONSTRAINT payments_card_last4_shape CHECK (card_last4 ~ '^[0-9]{4}$'),
        recorded_by            uuid REFERENCES users(id),
        created_at             timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT payments_business_id_key UNIQUE (business_id, id),
        CONSTRAINT payments_provider_payment_key UNIQUE (provider, provider_payment_id),
        CONSTRAINT payments_invoice_fkey FOREIGN KEY (business_id, invoice_id) REFERENCES invoices(business_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX payments_invoice_idx ON payments (business_id, invoice_id, created_at, id)`);
    await queryRunner.query(`CREATE INDEX payments_received_idx ON payments (business_id, received_on, id)`);
    await queryRunner.query(`CREATE INDEX payments_charge_idx ON payments (charge_id) WHERE charge_id IS NOT NULL`);

    // Requested here (maker–checker: the approver is never the requester, enforced by the
    // database too) or reported by the provider (a refund made in its dashboard, a reversal).
    await queryRunner.query(`
      CREATE TABLE refunds (
        id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id        uuid NOT NULL REFERENCES businesses(id),
        payment_id         uuid NOT NULL,
        invoice_id         uuid NOT NULL,
        provider           text NOT NULL CONSTRAINT refunds_provider_check CHECK (provider IN ('stripe', 'paypal', 'manual')),
        kind               text NOT NULL DEFAULT 'refund' CONSTRAINT refunds_kind_check CHECK (kind IN ('refund', 'reversal')),
        origin             text NOT NULL CONSTRAINT refunds_origin_check CHECK (origin IN ('requested', 'provider')),
        amount             bigint NOT NULL CONSTRAINT refunds_amount_check CHECK (amount > 0 AND amount < 1000000000000),
        currency           text NOT NULL CONSTRAINT refunds_currency_shape CHECK (currency ~ '^[A-Z]{3}$'),
        reason             text NOT NULL CONSTRAINT refunds_reason_length CHECK (length(reason) BETWEEN 1 AND 1000),
        status             text NOT NULL CONSTRAINT refunds_status_check
                             CHECK (status IN ('pending_approval', 'rejected', 'approved', 'submitted', 'succeeded', 'failed')),
        requested_by       uuid REFERENCES users(id),
        decided_by         uuid REFERENCES users(id),
        decided_at         timestamptz,
        decision_note      text CONSTRAINT refunds_decision_note_length CHECK (length(decision_note) <= 1000),
        provider_refund_id text,
        failure_reason     text,
        completed_at       timestamptz,
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT refunds_business_id_key UNIQUE (business_id, id),
        CONSTRAINT refunds_provider_refund_key UNIQUE (provider, provider_refund_id),
        CONSTRAINT refunds_payment_fkey FOREIGN KEY (business_id, payment_id) REFERENCES payments(business_id, id),
        CONSTRAINT refunds_invoice_fkey FOREIGN KEY (business_id, invoice_id) REFERENCES invoices(business_id, id),
        CONSTRAINT refunds_second_person CHECK (decided_by IS NULL OR requested_by IS NULL OR decided_by <> requested_by),
        CONSTRAINT refunds_requested_has_requester CHECK (origin <> 'requested' OR requested_by IS NOT NULL),
        CONSTRAINT refunds_decided_has_decider CHECK (origin <> 'requested' OR status = 'pending_approval' OR decided_by IS NOT NULL)
      )`);
    await queryRunner.query(`CREATE INDEX refunds_payment_idx ON refunds (business_id, payment_id, created_at)`);
    await queryRunner.query(`CREATE INDEX refunds_business_status_idx ON refunds (business_id, status, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX refunds_in_flight_idx ON refunds (updated_at) WHERE status = 'approved'`);

    // A ledger per invoice: its entries always sum to what was paid beyond what was owed.
    await queryRunner.query(`
      CREATE TABLE customer_credits (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id uuid NOT NULL REFERENCES businesses(id),
        customer_id uuid NOT NULL,
        invoice_id  uuid NOT NULL,
        payment_id  uuid,
        amount      bigint NOT NULL CONSTRAINT customer_credits_amount_check CHECK (amount <> 0 AND amount > -1000000000000 AND amount < 1000000000000),
        currency    text NOT NULL CONSTRAINT customer_credits_currency_shape CHECK (currency ~ '^[A-Z]{3}$'),
        reason      text NOT NULL CONSTRAINT customer_credits_reason_check CHECK (reason IN ('overpayment', 'overpayment_reduced')),
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT customer_credits_customer_fkey FOREIGN KEY (business_id, customer_id) REFERENCES customers(business_id, id),
        CONSTRAINT customer_credits_invoice_fkey FOREIGN KEY (business_id, invoice_id) REFERENCES invoices(business_id, id),
        CONSTRAINT customer_credits_payment_fkey FOREIGN KEY (business_id, payment_id) REFERENCES payments(business_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX customer_credits_invoice_idx ON customer_credits (business_id, invoice_id)`);
    await queryRunner.query(`CREATE INDEX customer_credits_customer_idx ON customer_credits (business_id, customer_id, created_at)`);

    await queryRunner.query(`
      CREATE TABLE disputes (
        id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        business_id         uuid NOT NULL REFERENCES businesses(id),
        invoice_id          uuid NOT NULL,
        payment_id          uuid NOT NULL,
        provider            text NOT NULL CONSTRAINT disputes_provider_check CHECK (provider IN ('stripe', 'paypal')),
        provider_dispute_id text NOT NULL CONSTRAINT disputes_provider_dispute_length CHECK (length(provider_dispute_id) BETWEEN 1 AND 255),
        amount              bigint NOT NULL CONSTRAINT disputes_amount_check CHECK (amount >= 0 AND amount < 1000000000000),
        currency            text NOT NULL CONSTRAINT disputes_currency_shape CHECK (currency ~ '^[A-Z]{3}$'),
        reason              text CONSTRAINT disputes_reason_length CHECK (length(reason) <= 100),
        status              text CONSTRAINT disputes_status_length CHECK (length(status) <= 100),
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT disputes_business_id_key UNIQUE (business_id, id),
        CONSTRAINT disputes_provider_dispute_key UNIQUE (provider, provider_dispute_id),
        CONSTRAINT disputes_invoice_fkey FOREIGN KEY (business_id, invoice_id) REFERENCES invoices(business_id, id),
        CONSTRAINT disputes_payment_fkey FOREIGN KEY (business_id, payment_id) REFERENCES payments(business_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX disputes_payment_idx ON disputes (business_id, payment_id)`);

    // Verified provider events only (a forged, stale or unsigned delivery writes nothing). The
    // payload is stored redacted (no customer names, emails, addresses or secrets). The business
    // is known once processing has read the event's invoice reference.
    await queryRunner.query(`
      CREATE TABLE webhook_events (
        id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        provider       text NOT NULL CONSTRAINT webhook_events_provider_check CHECK (provider IN ('stripe', 'paypal')),
        event_id       text NOT NULL CONSTRAINT webhook_events_event_id_length CHECK (length(event_id) BETWEEN 1 AND 255),
        event_type     text NOT NULL CONSTRAINT webhook_events_event_type_length CHECK (length(event_type) BETWEEN 1 AND 255),
        livemode       boolean,
        business_id    uuid REFERENCES businesses(id),
        payload        jsonb NOT NULL,
        signature      text CONSTRAINT webhook_events_signature_length CHECK (length(signature) <= 2000),
        status         text NOT NULL DEFAULT 'received' CONSTRAINT webhook_events_status_check CHECK (status IN ('received', 'processed', 'failed')),
        outcome        text CONSTRAINT webhook_events_outcome_length CHECK (length(outcome) <= 200),
        failure_reason text CONSTRAINT webhook_events_failure_reason_length CHECK (length(failure_reason) <= 1000),
        attempts       integer NOT NULL DEFAULT 0,
        received_at    timestamptz NOT NULL DEFAULT now(),
        processed_at   timestamptz,
        CONSTRAINT webhook_events_provider_event_key UNIQUE (provider, event_id),
        CONSTRAINT webhook_events_failed_has_reason CHECK (status <> 'failed' OR failure_reason IS NOT NULL)
      )`);
    await queryRunner.query(`CREATE INDEX webhook_events_unprocessed_idx ON webhook_events (received_at) WHERE status = 'received'`);
    await queryRunner.query(`CREATE INDEX webhook_events_business_idx ON webhook_events (business_id, status, received_at DESC, id DESC)`);

    // Payments and refunds are accounting records: never deleted (refunds correct a payment).
    await queryRunner.query(`CREATE TRIGGER payments_no_delete BEFORE DELETE ON payments FOR EACH ROW EXECUTE FUNCTION refuse_change()`);
    await queryRunner.query(`CREATE TRIGGER refunds_no_delete BEFORE DELETE ON refunds FOR EACH ROW EXECUTE FUNCTION refuse_change()`);
    await queryRunner.query(`CREATE TRIGGER customer_credits_immutable BEFORE UPDATE OR DELETE ON customer_credits FOR EACH ROW EXECUTE FUNCTION refuse_change()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['webhook_events', 'disputes', 'customer_credits', 'refunds', 'payments', 'checkout_sessions']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
    await queryRunner.query('ALTER TABLE invoices DROP COLUMN disputed_at');
  }
}
