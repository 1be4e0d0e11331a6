import { Inject, Injectable } from '@nestjs/common';
import { queryRows } from '../database/sql.js';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { LOGGER } from '../common/logging/logging.module.js';
import { JobHandler } from '../jobs/job-handler.decorator.js';
import { JobsService } from '../jobs/jobs.service.js';
import type { RenderedEmail, TemplateName } from './templates.js';

export interface OutgoingEmail {
  businessId: string | null;
  to: string;
  template: TemplateName;
  content: RenderedEmail;
}

/**
 * The durable email outbox. A row is written in the same transaction as the change that causes
 * it; the send job is queued after commit with the row id as job id. Until the Postmark
 * transport arrives (notifications issue) every email is captured: stored, marked `captured`,
 * and logged as a redacted summary.
 */
@Injectable()
export class EmailOutbox {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobsService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async enqueue(manager: EntityManager, email: OutgoingEmail): Promise<string> {
    const [row]: Array<{ id: string }> = await manager.query(
      `INSERT INTO emails (business_id, to_address, template, subject, text_body, html_body)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [email.businessId, email.to, email.template, email.content.subject, email.content.text, email.content.html],
    );
    return row.id;
  }

  /** Call after the transaction that wrote the rows has committed. */
  async dispatch(emailIds: string[]): Promise<void> {
    for (const emailId of emailIds) {
      await this.jobs.dispatch('email.send', { emailId }, { jobId: `email.${emailId}` });
    }
  }

  @JobHandler('email.send')
  async send(payload: { emailId: string }): Promise<void> {
    const rows: Array<{ template: string; to_address: string }> = await queryRows(this.dataSource,
      `UPDATE emails SET status = 'captured', sent_at = now() WHERE id = $1 AND status = 'queued' RETURNING template, to_address`,
      [payload.emailId],
    );
    if (rows.length === 0) return; // already handled: at most once per row
    this.logger.info({ emailId: payload.emailId, template: rows[0].template, to: maskEmail(rows[0].to_address) }, 'email captured (no transport configured)');
  }
}

export function maskEmail(email: string): string {
  const [local, domain] = email.split('@');
  return `${local.slice(0, 1)}***@${domain ?? ''}`;
}
