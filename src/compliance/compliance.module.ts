import { Module } from '@nestjs/common';
import { MfaService } from '../auth/mfa.service.js';
import { BusinessClosureService } from './business-closure.service.js';
import { BusinessComplianceController, DataRightsController } from './compliance.controller.js';
import { DataRightsService } from './data-rights.service.js';
import { ReauthService } from './reauth.service.js';
import { RetentionService } from './retention.service.js';

/**
 * Data rights (customer export and erasure), retention (settings, dry run, scheduled purge) and
 * business closure (export, close, later erasure). MfaService is provided here as well (the
 * auth module does not export it): it is stateless over the database, so this instance checks
 * codes with the same replay protection as login.
 */
@Module({
  imports: [],
  controllers: [DataRightsController, BusinessComplianceController],
  providers: [MfaService, ReauthService, DataRightsService, RetentionService, BusinessClosureService],
  exports: [],
})
export class ComplianceModule {}
