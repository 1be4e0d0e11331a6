import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type AuditActorType = 'user' | 'system' | 'customer' | 'provider' | 'anonymous';

/** Longest browser string an event keeps (cut before a customer's is sealed). */
export const MAX_USER_AGENT = 512;

/** One row of the append-only, per-business hash-chained audit log. */
@Entity({ name: 'audit_events' })
export class AuditEvent {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  /** Null for events that belong to no business (e.g. a failed login for an unknown email). */
  @Column({ name: 'business_id', type: 'uuid', nullable: true })
  businessId: string | null;

  /** Position in the business's chain, from 1, without gaps. */
  @Column({ type: 'bigint' })
  seq: string;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt: Date;

  @Column({ name: 'actor_type', type: 'text' })
  actorType: AuditActorType;

  @Column({ name: 'actor_id', type: 'text', nullable: true })
  actorId: string | null;

  @Column({ type: 'text' })
  action: string;

  @Column({ name: 'entity_type', type: 'text', nullable: true })
  entityType: string | null;

  @Column({ name: 'entity_id', type: 'text', nullable: true })
  entityId: string | null;

  @Column({ type: 'text', nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'text', nullable: true })
  userAgent: string | null;

  @Column({ type: 'jsonb' })
  detail: Record<string, unknown>;

  @Column({ name: 'prev_hash', type: 'bytea' })
  prevHash: Buffer;

  @Column({ type: 'bytea' })
  hash: Buffer;
}
