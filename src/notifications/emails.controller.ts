import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Put, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from '../auth/principal.js';
import { ADMIN_ONLY, ANY_MEMBER, BILLING_OR_ADMIN, Roles } from '../auth/roles.js';
import type { Page } from '../common/pagination/cursor.js';
import { EmailDeliveryService, type EmailEventView, type EmailView } from './email-delivery.service.js';
import { NotificationSettingsService, type NotificationSettingsView } from './notification-settings.service.js';
import { ListEmailsQuery, PageQuery, UpdateNotificationSettingsDto } from './notifications.dto.js';
import { SuppressionsService, type SuppressionView } from './suppressions.service.js';

const uuid = new ParseUUIDPipe();

@ApiTags('emails')
@Controller('v1/emails')
export class EmailsController {
  constructor(private readonly delivery: EmailDeliveryService) {}

  /** What was sent (or captured) for this business, newest first, with its delivery state. */
  @Roles(...ADMIN_ONLY)
  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListEmailsQuery): Promise<Page<EmailView>> {
    return this.delivery.list(principal.businessId, query);
  }

  @Roles(...ADMIN_ONLY)
  @Get(':id')
  get(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string): Promise<EmailView & { events: EmailEventView[] }> {
    return this.delivery.get(principal.businessId, id);
  }
}

@ApiTags('emails')
@Controller('v1/email-suppressions')
export class EmailSuppressionsController {
  constructor(private readonly suppressions: SuppressionsService) {}

  /** Addresses this business does not email (hard bounce, spam complaint, inactive at Postmark). */
  @Roles(...ANY_MEMBER)
  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: PageQuery): Promise<Page<SuppressionView>> {
    return this.suppressions.list(principal.businessId, query);
  }

  /** A member who checked the address with the customer clears it: emails go to it again. */
  @Roles(...BILLING_OR_ADMIN)
  @ApiConflictResponse({ description: '`suppressed_at_provider`: Postmark keeps the address suppressed (a spam complaint); nothing was cleared.' })
  @ApiServiceUnavailableResponse({ description: '`provider_unavailable`: Postmark could not be reached to reactivate the address; nothing was cleared.' })
  @Delete(':id')
  @HttpCode(204)
  async clear(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta): Promise<void> {
    await this.suppressions.clear(principal, id, meta);
  }
}

@ApiTags('emails')
@Controller('v1/notification-settings')
export class NotificationSettingsController {
  constructor(private readonly settings: NotificationSettingsService) {}

  @Roles(...ANY_MEMBER)
  @Get()
  get(@CurrentPrincipal() principal: Principal): Promise<NotificationSettingsView> {
    return this.settings.get(principal.businessId);
  }

  @Roles(...ADMIN_ONLY)
  @Put()
  update(@CurrentPrincipal() principal: Principal, @Body() body: UpdateNotificationSettingsDto, @Meta() meta: RequestMeta): Promise<NotificationSettingsView> {
    return this.settings.update(principal, body, meta);
  }
}
