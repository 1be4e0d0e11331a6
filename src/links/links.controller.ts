import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from '../auth/principal.js';
import { ADMIN_ONLY, ANY_MEMBER, BILLING_OR_ADMIN, Roles } from '../auth/roles.js';
import { UpdateLinkSettingsDto, type DocumentOpen, type LinkSettings } from './links.dto.js';
import { LinksService } from './links.service.js';

const uuid = new ParseUUIDPipe();

/** The business's side of signed links: share links, see who opened them, revoke them all. */
@ApiTags('links')
@Controller('v1')
export class LinksController {
  constructor(private readonly links: LinksService) {}

  @Roles(...BILLING_OR_ADMIN)
  @Post('invoices/:id/link')
  @HttpCode(200)
  invoiceLink(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta): Promise<{ url: string; expiresAt: string }> {
    return this.links.createLink(principal, 'invoice', id, meta);
  }

  @Roles(...BILLING_OR_ADMIN)
  @Post('estimates/:id/link')
  @HttpCode(200)
  estimateLink(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string, @Meta() meta: RequestMeta): Promise<{ url: string; expiresAt: string }> {
    return this.links.createLink(principal, 'estimate', id, meta);
  }

  @Roles(...ANY_MEMBER)
  @Get('invoices/:id/opens')
  invoiceOpens(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string): Promise<{ data: DocumentOpen[]; total: number }> {
    return this.links.opens(principal.businessId, 'invoice', id);
  }

  @Roles(...ANY_MEMBER)
  @Get('estimates/:id/opens')
  estimateOpens(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string): Promise<{ data: DocumentOpen[]; total: number }> {
    return this.links.opens(principal.businessId, 'estimate', id);
  }

  @Roles(...ANY_MEMBER)
  @Get('settings/links')
  settings(@CurrentPrincipal() principal: Principal): Promise<LinkSettings> {
    return this.links.settings(principal.businessId);
  }

  @Roles(...ADMIN_ONLY)
  @Patch('settings/links')
  updateSettings(@CurrentPrincipal() principal: Principal, @Body() body: UpdateLinkSettingsDto, @Meta() meta: RequestMeta): Promise<LinkSettings> {
    return this.links.updateSettings(principal, body, meta);
  }

  @Roles(...ADMIN_ONLY)
  @Post('settings/links/revoke-all')
  @HttpCode(200)
  revokeAll(@CurrentPrincipal() principal: Principal, @Meta() meta: RequestMeta): Promise<{ revokedAt: string; linkEpoch: number }> {
    return this.links.revokeAll(principal, meta);
  }
}
