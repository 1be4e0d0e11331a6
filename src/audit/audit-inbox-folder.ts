import { Inject, Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logging/logging.module.js';
import { AuditService } from './audit.service.js';

/**
 * Folds the audit inbox into the hash chains every second (worker role only, like every
 * schedule). Several workers may run it at once: each chain is appended under its own lock and
 * inbox rows are claimed with SKIP LOCKED, so no event is appended twice or lost.
 */
@Injectable()
export class AuditInboxFolder {
  private running = false;

  constructor(
    private readonly audit: AuditService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  // One second: an audit reader sees a view within about a second, and an idle inbox costs one cheap query.
  @Interval('audit.fold-inbox', 1000)
  async fold(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.audit.foldInbox();
    } catch (error) {
      this.logger.warn({ err: error }, 'folding the audit inbox failed; will retry');
    } finally {
      this.running = false;
    }
  }
}
