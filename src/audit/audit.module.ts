import { Global, Module } from '@nestjs/common';
import { AuditChainCheck } from './audit-chain-check.js';
import { AuditController } from './audit.controller.js';
import { AuditTrailService } from './audit-export.js';
import { AuditInboxFolder } from './audit-inbox-folder.js';
import { AuditService } from './audit.service.js';
import { CustomerPiiKeys } from './customer-pii-keys.js';

@Global()
@Module({ controllers: [AuditController], providers: [AuditService, CustomerPiiKeys, AuditChainCheck, AuditInboxFolder, AuditTrailService], exports: [AuditService, CustomerPiiKeys] })
export class AuditModule {}
