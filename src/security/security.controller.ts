import { Controller, Get, Headers, Inject, Query, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Transform, type TransformFnParams } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { Public } from '../auth/public.decorator.js';
import { ADMIN_ONLY, Roles } from '../auth/roles.js';
import { AppError } from '../common/errors/app-error.js';
import { MAX_LIMIT, type Page } from '../common/pagination/cursor.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { EXPOSITION_CONTENT_TYPE } from './metrics.js';
import { authorizesMetrics, metricsToken } from './metrics-token.js';
import { PostureService, type Posture } from './posture.service.js';
import { SecurityEvents, type SecurityEventView } from './security-events.service.js';
import { SECURITY_KINDS } from './security-rules.js';
import { SecurityMetrics } from './security-metrics.js';

const queryInteger = ({ value }: TransformFnParams): unknown => (typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value);

export class ListSecurityEventsQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_LIMIT, default: 50 }) @IsOptional() @Transform(queryInteger) @IsInt() @Min(1) @Max(MAX_LIMIT) limit?: number;
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' }) @IsOptional() @IsString() @MaxLength(512) cursor?: string;
  @ApiPropertyOptional({ enum: SECURITY_KINDS }) @IsOptional() @IsIn(SECURITY_KINDS) kind?: string;
}

@ApiTags('security')
@Controller('v1/security')
export class SecurityController {
  constructor(
    private readonly events: SecurityEvents,
    private readonly posture: PostureService,
  ) {}

  /** The business's security events, newest first (plus platform-wide webhook verification alerts). */
  @Roles(...ADMIN_ONLY)
  @Get('events')
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListSecurityEventsQuery): Promise<Page<SecurityEventView>> {
    return this.events.list(principal.businessId, query);
  }

  @Roles(...ADMIN_ONLY)
  @Get('posture')
  report(@CurrentPrincipal() principal: Principal): Promise<Posture> {
    return this.posture.posture(principal.businessId);
  }
}

/**
 * Prometheus metrics on the API port, never public: the scrape must send
 * `Authorization: Bearer <token>` (see metrics-token.ts). Any other request answers 401 and
 * learns nothing, not even whether metrics exist behind the token.
 */
@Controller()
export class MetricsController {
  private readonly token: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly metrics: SecurityMetrics,
  ) {
    this.token = metricsToken(config.jwtSecret);
  }

  @Public()
  @ApiExcludeEndpoint()
  @Get('metrics')
  async scrape(@Headers('authorization') authorization: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    if (!authorizesMetrics(authorization, this.token)) {
      throw new AppError(401, 'unauthorized', 'Authentication is required.', undefined, { 'www-authenticate': 'Bearer realm="metrics"' });
    }
    reply.header('content-type', EXPOSITION_CONTENT_TYPE);
    reply.header('cache-control', 'no-store');
    return this.metrics.render();
  }
}
