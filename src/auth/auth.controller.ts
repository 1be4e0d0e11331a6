import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Req, Res, UseGuards } from '@nestjs/common';
import { queryRows } from '../database/sql.js';
import { ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { AppError } from '../common/errors/app-error.js';
import { AuthService } from './auth.service.js';
import {
  ChangePasswordDto,
  ForgotPasswordDto,
  LoginDto,
  LogoutDto,
  MfaCodeDto,
  MfaDisableDto,
  RefreshDto,
  ResetPasswordDto,
  SignupDto,
  SwitchBusinessDto,
} from './auth.dto.js';
import { MfaService } from './mfa.service.js';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from './principal.js';
import { Public } from './public.decorator.js';
import { IpThrottlerGuard, RefreshThrottlerGuard } from './rate-limit.js';
import { ANY_MEMBER, AllowWithoutMfa, Roles } from './roles.js';
import { clearSessionCookies, refreshTokenFrom, sessionBody } from './session-response.js';
import { SessionsService } from './sessions.service.js';

/** Every answer to /password/forgot takes at least this long, found or not. */
export const FORGOT_FLOOR_MS = 400;

type CookieRequest = FastifyRequest & { cookies?: Record<string, string | undefined> };

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionsService,
    private readonly mfa: MfaService,
    private readonly audit: AuditService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  @Public()
  @UseGuards(IpThrottlerGuard)
  @Post('signup')
  async signup(@Body() body: SignupDto, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<Record<string, unknown>> {
    const result = await this.auth.signup({ ...body, client: body.client ?? 'web' }, meta);
    return { user: result.user, business: result.business, ...sessionBody(reply, result.session) };
  }

  @Public()
  @UseGuards(IpThrottlerGuard)
  @Post('login')
  @HttpCode(200)
  async login(@Body() body: LoginDto, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<Record<string, unknown>> {
    return sessionBody(reply, await this.auth.login({ ...body, client: body.client ?? 'web' }, meta));
  }

  @Public()
  @UseGuards(RefreshThrottlerGuard)
  @Post('refresh')
  @HttpCode(200)
  async refresh(@Body() body: RefreshDto, @Req() request: CookieRequest, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<Record<string, unknown>> {
    const token = refreshTokenFrom(body, request.cookies);
    if (!token) throw AppError.unauthorized('invalid_refresh_token', 'Sign in again.');
    return sessionBody(reply, await this.auth.refresh(token, meta));
  }

  @Roles(...ANY_MEMBER)
  @AllowWithoutMfa()
  @Post('logout')
  @HttpCode(204)
  async logout(@CurrentPrincipal() principal: Principal, @Body() body: LogoutDto, @Req() request: CookieRequest, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    await this.auth.logout(principal, refreshTokenFrom(body, request.cookies), meta);
    clearSessionCookies(reply);
  }

  @Roles(...ANY_MEMBER)
  @AllowWithoutMfa()
  @Post('switch')
  @HttpCode(200)
  async switch(@CurrentPrincipal() principal: Principal, @Body() body: SwitchBusinessDto, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<Record<string, unknown>> {
    return sessionBody(reply, await this.auth.switchBusiness(principal, body.businessId, meta));
  }

  @Roles(...ANY_MEMBER)
  @AllowWithoutMfa()
  @Get('me')
  async me(@CurrentPrincipal() principal: Principal): Promise<Record<string, unknown>> {
    const [row]: Array<{ email: string; name: string; business_name: string }> = await this.dataSource.query(
      'SELECT u.email, u.name, b.name AS business_name FROM users u, businesses b WHERE u.id = $1 AND b.id = $2',
      [principal.userId, principal.businessId],
    );
    const businesses = await this.auth.businessesOf(principal.userId);
    return {
      user: { id: principal.userId, email: row.email, name: row.name, mfaEnabled: principal.mfaEnabled },
      business: { id: principal.businessId, name: row.business_name, requireMfa: principal.mfaRequired },
      role: principal.role,
      businesses,
    };
  }

  @Roles(...ANY_MEMBER)
  @AllowWithoutMfa()
  @UseGuards(IpThrottlerGuard)
  @Post('password/change')
  @HttpCode(200)
  async changePassword(@CurrentPrincipal() principal: Principal, @Body() body: ChangePasswordDto, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<Record<string, unknown>> {
    return sessionBody(reply, await this.auth.changePassword(principal, body, meta));
  }

  @Public()
  @UseGuards(IpThrottlerGuard)
  @Post('password/forgot')
  @HttpCode(202)
  async forgot(@Body() body: ForgotPasswordDto, @Meta() meta: RequestMeta): Promise<{ status: string }> {
    const started = Date.now();
    try {
      await this.auth.requestPasswordReset(body.email, meta);
    } finally {
      // Same status, body, headers and time whether or not the account exists.
      const remaining = FORGOT_FLOOR_MS - (Date.now() - started);
      if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
    }
    return { status: 'accepted' };
  }

  @Public()
  @UseGuards(IpThrottlerGuard)
  @Post('password/reset')
  @HttpCode(204)
  async reset(@Body() body: ResetPasswordDto, @Meta() meta: RequestMeta): Promise<void> {
    await this.auth.resetPassword(body, meta);
  }

  @Roles(...ANY_MEMBER)
  @AllowWithoutMfa()
  @Get('sessions')
  async listSessions(@CurrentPrincipal() principal: Principal): Promise<{ data: unknown[] }> {
    const sessions = await this.sessions.listForUser(principal.userId);
    return { data: sessions.map((session) => ({ ...session, current: session.id === principal.sessionId })) };
  }

  @Roles(...ANY_MEMBER)
  @AllowWithoutMfa()
  @Delete('sessions/:id')
  @HttpCode(204)
  async revokeSession(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      const rows: unknown[] = await queryRows(tx,
        `UPDATE sessions SET revoked_at = now(), revoked_reason = 'revoked_by_user' WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id`,
        [id, principal.userId],
      );
      if (rows.length === 0) throw AppError.notFound('session_not_found', 'No such session.');
      await this.audit.record({ businessId: principal.businessId, actor: { type: 'user', id: principal.userId }, action: 'auth.session.revoked', entity: { type: 'session', id }, ...meta }, tx);
    });
  }

  @Roles(...ANY_MEMBER)
  @AllowWithoutMfa()
  @Post('mfa/setup')
  @HttpCode(200)
  setupMfa(@CurrentPrincipal() principal: Principal, @Meta() meta: RequestMeta): Promise<{ secret: string; otpauthUri: string }> {
    return this.mfa.setup(principal, meta);
  }

  @Roles(...ANY_MEMBER)
  @AllowWithoutMfa()
  @UseGuards(IpThrottlerGuard)
  @Post('mfa/enable')
  @HttpCode(200)
  enableMfa(@CurrentPrincipal() principal: Principal, @Body() body: MfaCodeDto, @Meta() meta: RequestMeta): Promise<{ recoveryCodes: string[] }> {
    return this.mfa.enable(principal, body.code, meta);
  }

  @Roles(...ANY_MEMBER)
  @UseGuards(IpThrottlerGuard)
  @Post('mfa/disable')
  @HttpCode(204)
  async disableMfa(@CurrentPrincipal() principal: Principal, @Body() body: MfaDisableDto, @Meta() meta: RequestMeta): Promise<void> {
    await this.mfa.disable(principal, body, meta);
  }
}
