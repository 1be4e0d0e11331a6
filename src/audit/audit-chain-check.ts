import { Inject, Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { LOGGER } from '../common/logging/logging.module.js';
import { withAdvisoryXactLock } from '../jobs/advisory-lock.js';
import { JobHandler } from '../jobs/job-handler.decorator.js';
import { JobsService } from '../jobs/jobs.service.js';
import type { ChainVerification } from './audit-chain.js';
import { verifyStoredChain } from './audit-export.js';
import { AuditService } from './audit.service.js';

/**
 * Nightly tamper check: every audit chain is recomputed and a broken one is logged as an
 * error (and so reaches Sentry/alerting). Schedules run only in the worker role.
 */
@Injectable()
export class AuditChainCheck {
  constructor(
    private readonly audit: AuditService,
    private readonly jobs: JobsService,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  // 03:17 UTC: off the hour so it does not coincide with other nightly work.
  @Cron('17 3 * * *', { name: 'audit.verify-chains' })
  async scheduleAll(now = new Date()): Promise<number | undefined> {
    return withAdvisoryXactLock(this.dataSource, 'audit.verify-chains', async () => {
      const day = now.toISOString().slice(0, 10);
      const owners = await this.audit.chainOwners();
      for (const businessId of owners) {
        // One job per chain per day: a second scheduler run the same day adds nothing.
        await this.jobs.dispatch('audit.verify-chain', { businessId }, { jobId: `audit.verify-chain.${businessId ?? 'system'}.${day}` });
      }
      return owners.length;
    });
  }

  @JobHandler('audit.verify-chain')
  async verify(payload: { businessId: string | null }): Promise<ChainVerification> {
    // The anchored verifier: a chain whose oldest events were purged by retention starts at its anchor.
    const result = await verifyStoredChain(this.dataSource, payload.businessId);
    if (!result.valid) {
      this.logger.error({ businessId: payload.businessId, firstBrokenId: result.firstBrokenId, checked: result.checked }, 'audit chain is broken');
    }
    return result;
  }
}
