import { Global, Module } from '@nestjs/common';
import { EmailOutbox } from './email-outbox.service.js';

@Global()
@Module({ providers: [EmailOutbox], exports: [EmailOutbox] })
export class NotificationsModule {}
