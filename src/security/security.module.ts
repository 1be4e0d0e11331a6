import { Global, Module } from '@nestjs/common';
import { SecuritySignals } from './security-signals.js';

@Global()
@Module({ imports: [], controllers: [], providers: [SecuritySignals], exports: [SecuritySignals] })
export class SecurityModule {}
