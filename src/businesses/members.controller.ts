import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, UseGuards } from '@nestjs/common';
import { AcceptInvitationDto } from '../auth/auth.dto.js';
import { Public } from '../auth/public.decorator.js';
import { IpThrottlerGuard } from '../auth/rate-limit.js';
import { ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from '../auth/principal.js';
import { ADMIN_ONLY, ANY_MEMBER, Roles } from '../auth/roles.js';
import { ChangeRoleDto, InviteMemberDto, UpdateSettingsDto } from './members.dto.js';
import { MembersService, type MemberView } from './members.service.js';

@ApiTags('members')
@Controller('v1')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  @Roles(...ANY_MEMBER)
  @Get('members')
  async list(@CurrentPrincipal() principal: Principal): Promise<{ data: MemberView[] }> {
    return { data: await this.members.list(principal.businessId) };
  }

  @Roles(...ADMIN_ONLY)
  @Post('members/invitations')
  invite(@CurrentPrincipal() principal: Principal, @Body() body: InviteMemberDto, @Meta() meta: RequestMeta): Promise<unknown> {
    return this.members.invite(principal, body, meta);
  }

  @Roles(...ADMIN_ONLY)
  @Patch('members/:userId')
  changeRole(@CurrentPrincipal() principal: Principal, @Param('userId', new ParseUUIDPipe()) userId: string, @Body() body: ChangeRoleDto, @Meta() meta: RequestMeta): Promise<MemberView> {
    return this.members.changeRole(principal, userId, body.role, meta);
  }

  @Roles(...ADMIN_ONLY)
  @Delete('members/:userId')
  @HttpCode(204)
  async remove(@CurrentPrincipal() principal: Principal, @Param('userId', new ParseUUIDPipe()) userId: string, @Meta() meta: RequestMeta): Promise<void> {
    await this.members.remove(principal, userId, meta);
  }

  @Public()
  @UseGuards(IpThrottlerGuard)
  @Post('auth/invitations/accept')
  @HttpCode(201)
  acceptInvitation(@Body() body: AcceptInvitationDto, @Meta() meta: RequestMeta): Promise<{ businessId: string; userId: string; role: string }> {
    return this.members.acceptInvitation(body, meta);
  }

  @Roles(...ANY_MEMBER)
  @Get('settings')
  settings(@CurrentPrincipal() principal: Principal): Promise<unknown> {
    return this.members.settings(principal.businessId);
  }

  @Roles(...ADMIN_ONLY)
  @Patch('settings')
  updateSettings(@CurrentPrincipal() principal: Principal, @Body() body: UpdateSettingsDto, @Meta() meta: RequestMeta): Promise<unknown> {
    return this.members.updateSettings(principal, body, meta);
  }
}
