import { Global, Module } from '@nestjs/common';
import { AuditChainCheck } from './audit-chain-check.js';
import { AuditInboxFolder } from './audit-inbox-folder.js';
import { AuditService } from './audit.service.js';

@Global()
@Module({ providers: [AuditService, AuditChainCheck, AuditInboxFolder], exports: [AuditService] })
export class AuditModule {}
