import { Body, Controller, Get, Put, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from '../auth/principal.js';
import { ADMIN_ONLY, ANY_MEMBER, Roles } from '../auth/roles.js';
import { UpcomingRemindersQuery, UpdateReminderSettingsDto } from './reminders.dto.js';
import { RemindersService, type ReminderSettingsView, type UpcomingReminders } from './reminders.service.js';

@ApiTags('reminders')
@Controller('v1/reminders')
export class RemindersController {
  constructor(private readonly reminders: RemindersService) {}

  /** The reminders of the next 30 days, in the order they go out (business-local send hour). */
  @Roles(...ANY_MEMBER)
  @Get('upcoming')
  upcoming(@CurrentPrincipal() principal: Principal, @Query() query: UpcomingRemindersQuery): Promise<UpcomingReminders> {
    return this.reminders.upcoming(principal.businessId, query);
  }

  @Roles(...ANY_MEMBER)
  @Get('settings')
  settings(@CurrentPrincipal() principal: Principal): Promise<ReminderSettingsView> {
    return this.reminders.settings(principal.businessId);
  }

  /** The reminder schedule: stages (days from the due date), the local send hour and the business's time zone. */
  @Roles(...ADMIN_ONLY)
  @Put('settings')
  updateSettings(@CurrentPrincipal() principal: Principal, @Body() body: UpdateReminderSettingsDto, @Meta() meta: RequestMeta): Promise<ReminderSettingsView> {
    return this.reminders.updateSettings(principal, body, meta);
  }
}
