import { Global, Module } from '@nestjs/common';
import { AuditChainCheck } from './audit-chain-check.js';
import { AuditService } from './audit.service.js';

@Global()
@Module({ providers: [AuditService, AuditChainCheck], exports: [AuditService] })
export class AuditModule {}
