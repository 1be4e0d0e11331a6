import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/public.decorator.js';
import { PROBLEM_CONTENT_TYPE } from '../common/errors/problem.js';
import { HealthService } from './health.service.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Public()
  @Get()
  @HttpCode(200)
  @ApiOkResponse({ description: 'The process is alive (no dependency is checked).' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Public()
  @Get('ready')
  @ApiOkResponse({ description: 'Database and queue backend answer.' })
  @ApiServiceUnavailableResponse({ description: 'A dependency is down; `checks` says which.' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const report = await this.health.readiness();
    if (report.status === 'ok') return report;
    reply.status(503).header('content-type', PROBLEM_CONTENT_TYPE);
    const down = Object.entries(report.checks).filter(([, state]) => state === 'down').map(([name]) => name);
    return {
      type: 'https://ledgerline.dev/problems/not_ready',
      title: 'Service Unavailable',
      status: 503,
      code: 'not_ready',
      detail: `Not ready: ${down.join(', ')} unavailable.`,
      checks: report.checks,
    };
  }
}
